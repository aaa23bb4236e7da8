/// The `type` string of a frame.
///
/// A struct rather than an enum so that types this build does not know still
/// decode: PROTOCOL.md says receivers ignore them and the server relays them.
public struct MessageType: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// A client registers itself; sent once, first.
    public static let newUser = MessageType(rawValue: "new_user")
    /// The server's room list after someone joined.
    public static let connectionList = MessageType(rawValue: "connection_list")
    /// An SDP offer from the new user to an existing one.
    public static let sendOffer = MessageType(rawValue: "send_offer")
    /// An SDP answer back to the new user. The misspelling is part of the wire contract.
    public static let sendAnswer = MessageType(rawValue: "send_aswer")
    /// One trickled ICE candidate.
    public static let newCandidate = MessageType(rawValue: "new_candidate")
    /// A client leaves.
    public static let closeConnection = MessageType(rawValue: "close_connection")
    /// The server's room list after someone left.
    public static let restConnectionList = MessageType(rawValue: "rest_connection_list")
    /// The server refused a frame; carries `code` and `message`.
    public static let error = MessageType(rawValue: "error")

    /// Types only the server may send; a client sending one would spoof room state.
    public var isServerOnly: Bool {
        self == .connectionList || self == .restConnectionList || self == .error
    }
}
