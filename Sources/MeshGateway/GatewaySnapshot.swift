import MeshProtocol

/// What the gateway holds at one moment, for status, statistics and tests.
public struct GatewaySnapshot: Sendable {
    public struct Peer: Sendable {
        public let id: PeerID
        public let state: String
        /// Depayloaded video and audio buffers received so far.
        public let videoBuffers: Int
        public let audioBuffers: Int
        /// Whether a video keyframe has come: from then on its video decodes.
        public let decodableVideo: Bool
        public let recording: String?
        /// Connected, but nothing has come from the peer for a while (``Liveness``).
        public let stalled: Bool
        /// Candidates the peer sent before its description, waiting for it.
        public let queuedCandidates: Int
        /// The video it is sent: `passthrough` (the source's own), `encoded`, or nil for none.
        public let sentVideo: String?
    }

    public let registered: Bool
    public let peers: [Peer]
    /// The codecs (`vp8`, `h264`) whose shared video encoder runs for peers now.
    public let videoEncoders: [String]
    /// Direct children of the pipeline: the sending half, and one bin per peer, gone when it leaves.
    public let pipelineElements: Int
}
