/// One ICE candidate, shaped as `JSON.stringify(event.candidate)` in a browser.
///
/// Browsers may omit `sdpMid` and `usernameFragment` or send them as `null`.
public struct IceCandidate: Codable, Hashable, Sendable {
    /// The `candidate:...` attribute line, without `a=`.
    public var candidate: String
    public var sdpMid: String?
    public var sdpMLineIndex: Int?
    public var usernameFragment: String?

    public init(candidate: String, sdpMid: String? = nil, sdpMLineIndex: Int? = nil, usernameFragment: String? = nil) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
        self.usernameFragment = usernameFragment
    }
}
