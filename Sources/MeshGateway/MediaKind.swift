/// The RTP side of each codec MeshGate sends or receives.
enum MediaKind: String, Sendable, CaseIterable {
    case video, audio
}
