/// The RTP side of each codec MeshGate sends or receives.
public enum MediaKind: String, Sendable, CaseIterable {
    case video, audio

    /// The kind of a stream by its caps name: `video/x-h264` is video, `audio/x-raw` audio.
    init?(capsName: String) {
        self.init(rawValue: String(capsName.prefix { $0 != "/" }))
    }
}
