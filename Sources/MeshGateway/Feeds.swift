import GStreamer

/// The tees of the sending half that peers' branches attach to: audio, video from each
/// codec's shared encoder (or raw, for each peer to encode, with `--encode per-peer`), and
/// the source's own video as it comes (passthrough).
struct Feeds {
    var audio: Element?
    /// Raw video, each peer's branch encoding its own (`--encode per-peer`).
    var rawVideo: Element?
    /// The shared encoder of each codec (`--encode once`).
    var encodedVideo: [VideoCodec: Element] = [:]
    var passthrough: (tee: Element, video: PassthroughVideo)?

    var sending: Set<MediaKind> {
        var kinds: Set<MediaKind> = []
        if audio != nil { kinds.insert(.audio) }
        if rawVideo != nil || !encodedVideo.isEmpty || passthrough != nil { kinds.insert(.video) }
        return kinds
    }

    /// The tee a sending branch takes its media from.
    func tee(for sender: MediaPlan.Sender) -> Element? {
        switch sender.kind {
        case .audio: audio
        case .video where sender.passthrough: passthrough?.tee
        case .video: sender.encoder == nil ? sender.codec.flatMap { encodedVideo[$0] } : rawVideo
        }
    }
}
