/// An SDP offer or answer, shaped as `JSON.stringify(pc.localDescription)` in a browser.
public struct SessionDescription: Codable, Hashable, Sendable {
    /// `"offer"` or `"answer"` (browsers may also send `"pranswer"` or `"rollback"`).
    public var type: String
    /// The SDP text, lines separated by `\r\n`.
    public var sdp: String

    public init(type: String, sdp: String) {
        self.type = type
        self.sdp = sdp
    }

    public static func offer(_ sdp: String) -> Self { .init(type: "offer", sdp: sdp) }
    public static func answer(_ sdp: String) -> Self { .init(type: "answer", sdp: sdp) }
}
