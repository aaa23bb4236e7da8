/// Why the server refused a frame; sent back as an `error` frame.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable codes carried in the `code` field of error frames.
    public enum Code: String, Sendable, CaseIterable {
        /// Not JSON, or JSON that is not an object.
        case invalidJSON = "invalid_json"
        /// A known field has the wrong JSON type or shape.
        case invalidField = "invalid_field"
        /// A binary frame; the protocol is text only.
        case binaryFrame = "binary_frame"
        /// No `type`, or an empty one.
        case missingType = "missing_type"
        /// A type only the server sends (`connection_list`, `rest_connection_list`, `error`).
        case reservedType = "reserved_type"
        /// Any message other than `new_user` on a socket that has not registered.
        case notRegistered = "not_registered"
        /// A second `new_user` on a socket that is already registered.
        case alreadyRegistered = "already_registered"
        /// `new_user` with an id that another socket in the room holds.
        case duplicateID = "duplicate_id"
        /// `new_user` without a usable `id`.
        case missingID = "missing_id"
        /// A message whose `id` is not the one registered on this socket.
        case idMismatch = "id_mismatch"
        /// `targetId` names no one in this room.
        case unknownTarget = "unknown_target"
        /// The server requires a token and the socket did not present the right one.
        case unauthorized = "unauthorized"
        /// The recipient is not reading its messages; it was dropped.
        case slowConsumer = "slow_consumer"
        /// `new_user` with an id longer than the server takes.
        case idTooLong = "id_too_long"
        /// `new_user` with a username longer than the server takes.
        case usernameTooLong = "username_too_long"
        /// `new_user` with an id holding control characters.
        case invalidID = "invalid_id"
        /// `new_user` with a username holding control characters.
        case invalidUsername = "invalid_username"
        /// `new_user` into a room that has as many users as the server allows.
        case roomFull = "room_full"
        /// The socket sent frames faster than the server allows; the frame was not relayed.
        case rateLimited = "rate_limited"
        /// The socket did not send a valid `new_user` in time; it is being closed.
        case registerTimeout = "register_timeout"
        /// `new_user` with the id a hub room keeps for its hub (`hub`).
        case reservedID = "reserved_id"
        /// Rooms span servers and the Redis between them cannot be reached: the frame was not
        /// relayed (or the user not registered); try again in a moment.
        case unavailable = "unavailable"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
