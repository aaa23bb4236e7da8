/// What a page reports about its call: the browser client's `window.meshgate.state()`.
struct BrowserReport: Decodable, Sendable {
    let id: String
    /// The user wants to be in the call (joined and not left).
    let joined: Bool
    let registered: Bool
    /// The WebSocket's state: connecting, open, closing or closed.
    let socket: String
    let list: [String]
    /// Settings of the local tracks, by kind; a kind turned off is missing.
    let local: [String: Settings]
    let problems: [String]
    let peers: [String: Peer]
    /// The chat box's messages, oldest first (pages of the original design have none).
    let chat: [ChatLine]?

    struct ChatLine: Decodable, Sendable {
        let from: String
        let text: String
    }

    struct Settings: Decodable, Sendable {
        let width: Int?
        let height: Int?
    }

    struct Peer: Decodable, Sendable {
        let name: String
        /// "offer" or "answer": who made the offer.
        let role: String?
        let connectionState: String
        /// Kinds of the live received tracks.
        let tracks: [String]
        let received: [String: Stream]
        let sent: [String: Stream]
        /// What the browser estimates it may send this peer, in kbit/s (Chromium only).
        let sendEstimateKbps: Int?
        let localDescription: String?
        let remoteDescription: String?
    }

    struct Stream: Decodable, Sendable {
        let codec: String?
        let payloadType: Int?
        let packets: Int
        let framesDecoded: Int?
        let width: Int?
        let height: Int?
    }

    /// Whether video from `peer` is being decoded (at `width`x`height` if given) and its audio arrives.
    func receives(from peer: String, frames: Int = 10, width: Int? = nil, height: Int? = nil) -> Bool {
        guard let entry = peers[peer], entry.connectionState == "connected",
              let video = entry.received["video"], (video.framesDecoded ?? 0) >= frames,
              width == nil || video.width == width, height == nil || video.height == height,
              let audio = entry.received["audio"], audio.packets > 0,
              entry.tracks.contains("audio"), entry.tracks.contains("video") else { return false }
        return true
    }

    func framesDecoded(from peer: String) -> Int {
        peers[peer]?.received["video"]?.framesDecoded ?? 0
    }
}
