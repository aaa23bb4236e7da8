import MeshProtocol

/// Identifies one WebSocket for the lifetime of the server.
struct SocketID: Hashable, Sendable, CustomStringConvertible {
    let value: UInt64
    var description: String { "#\(value)" }
}

/// The room rules of PROTOCOL.md as a pure state machine: it takes what a
/// socket did and returns who gets which text, and what to log. No I/O, so
/// every rule is testable without a network.
struct Switchboard {
    /// What one user may claim; the hub's per-socket limits live in ``SignallingHub``.
    struct Limits: Equatable {
        var maxIDBytes = 128
        var maxNameBytes = 256
        var maxRoomSize = 64
    }

    /// One text frame for one socket.
    struct Delivery: Equatable {
        var to: SocketID
        var text: String
    }

    /// Why a user left its room.
    enum LeaveReason: String, Equatable {
        /// It sent `close_connection`.
        case closeConnection = "close_connection"
        /// Its socket closed or died without a `close_connection`.
        case socketClosed = "socket_closed"
        /// It stopped reading and was dropped.
        case slowConsumer = "slow_consumer"
        /// It went on sending faster than the rate limit and was closed.
        case rateLimited = "rate_limited"
    }

    /// Something worth a log line.
    enum Event: Equatable {
        case joined(room: String, id: PeerID, username: String?)
        case left(room: String, id: PeerID, reason: LeaveReason)
        case refused(socket: SocketID, room: String, id: PeerID?, type: String?, error: ProtocolError)
        case relayed(room: String, from: PeerID, to: PeerID?, type: String)
    }

    /// What one step produced.
    struct Outcome: Equatable {
        var deliveries: [Delivery] = []
        var events: [Event] = []
    }

    private struct Socket {
        var room: String
        var user: PeerID?
    }

    private struct Member {
        var socket: SocketID
        var username: String?
    }

    let limits: Limits
    private var sockets: [SocketID: Socket] = [:]
    private var rooms: [String: [PeerID: Member]] = [:]

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The room and registered id of a socket, for log lines about it.
    func whereabouts(of socket: SocketID) -> (room: String, id: PeerID?)? {
        sockets[socket].map { ($0.room, $0.user) }
    }

    func isRegistered(_ socket: SocketID) -> Bool { sockets[socket]?.user != nil }

    /// Users in a room, as the `list` field carries them.
    func list(of room: String) -> UserList {
        (rooms[room] ?? [:]).reduce(into: UserList()) { list, entry in
            list[entry.key] = User(id: entry.key, username: entry.value.username)
        }
    }

    mutating func open(_ socket: SocketID, room: String) {
        sockets[socket] = Socket(room: room)
    }

    /// The socket is gone: its user, if any, leaves as if it had sent `close_connection`.
    mutating func close(_ socket: SocketID, reason: LeaveReason = .socketClosed) -> Outcome {
        var outcome = Outcome()
        leave(socket, reason: reason, into: &outcome)
        sockets[socket] = nil
        return outcome
    }

    /// A binary frame: the protocol is text only.
    mutating func receiveBinary(from socket: SocketID) -> Outcome {
        // As for text: the hub passes on what a dropped socket had sent before it was dropped.
        guard sockets[socket] != nil else { return Outcome() }
        return refuse(socket, type: nil, ProtocolError(.binaryFrame, "binary frames are not part of the protocol; send JSON text"))
    }

    /// One text frame from a socket.
    mutating func receive(_ text: String, from socket: SocketID) -> Outcome {
        guard let state = sockets[socket] else { return Outcome() }
        let message: Message
        do {
            message = try Message.decode(text)
        } catch {
            return refuse(socket, type: nil, error)
        }
        guard let type = message.type, !type.rawValue.isEmpty else {
            return refuse(socket, type: nil, ProtocolError(.missingType, "frame has no 'type'"))
        }
        if type.isServerOnly {
            return refuse(socket, type: type.rawValue, ProtocolError(.reservedType, "'\(Self.brief(type.rawValue))' is sent by the server only"))
        }
        guard let user = state.user else {
            guard type == .newUser else {
                return refuse(socket, type: type.rawValue, ProtocolError(.notRegistered, "send 'new_user' before '\(Self.brief(type.rawValue))'"))
            }
            return register(socket, in: state.room, message: message)
        }
        if type == .newUser {
            return refuse(socket, type: type.rawValue, ProtocolError(.alreadyRegistered, "this socket is already registered as '\(user)'"))
        }
        if let claimed = message.id, claimed != user {
            return refuse(socket, type: type.rawValue, ProtocolError(.idMismatch, "'id' is '\(Self.brief(claimed))' but this socket is registered as '\(user)'"))
        }
        if type == .closeConnection {
            var outcome = Outcome()
            leave(socket, reason: .closeConnection, into: &outcome)
            return outcome
        }
        let members = rooms[state.room] ?? [:]
        if let target = message.targetId {
            guard let recipient = members[target] else {
                return refuse(socket, type: type.rawValue, ProtocolError(.unknownTarget, "no user '\(Self.brief(target))' in this room"))
            }
            return Outcome(
                deliveries: [Delivery(to: recipient.socket, text: text)],
                events: [.relayed(room: state.room, from: user, to: target, type: Self.brief(type.rawValue))]
            )
        }
        return Outcome(
            deliveries: members.filter { $0.key != user }.map { Delivery(to: $0.value.socket, text: text) },
            events: [.relayed(room: state.room, from: user, to: nil, type: Self.brief(type.rawValue))]
        )
    }

    private mutating func register(_ socket: SocketID, in room: String, message: Message) -> Outcome {
        guard let id = message.id, !id.isEmpty else {
            return refuse(socket, type: MessageType.newUser.rawValue, ProtocolError(.missingID, "'new_user' needs a non-empty string 'id'"))
        }
        if let error = Self.check(id: id, username: message.username, limits: limits) {
            return refuse(socket, type: MessageType.newUser.rawValue, error)
        }
        if rooms[room]?[id] != nil {
            return refuse(socket, type: MessageType.newUser.rawValue, ProtocolError(.duplicateID, "id '\(id)' is already connected in this room; pick another"))
        }
        if let members = rooms[room], members.count >= limits.maxRoomSize {
            return refuse(socket, type: MessageType.newUser.rawValue, ProtocolError(.roomFull, "this room is full (\(members.count) users); try again later or use another room"))
        }
        rooms[room, default: [:]][id] = Member(socket: socket, username: message.username)
        sockets[socket]?.user = id
        let announcement = Message(type: .connectionList, newUserId: id, list: list(of: room))
        var outcome = broadcast(announcement, in: room)
        outcome.events.insert(.joined(room: room, id: id, username: message.username), at: 0)
        return outcome
    }

    private mutating func leave(_ socket: SocketID, reason: LeaveReason, into outcome: inout Outcome) {
        guard let state = sockets[socket], let user = state.user else { return }
        sockets[socket]?.user = nil
        rooms[state.room]?[user] = nil
        if rooms[state.room]?.isEmpty == true { rooms[state.room] = nil }
        outcome.events.append(.left(room: state.room, id: user, reason: reason))
        let rest = broadcast(Message(type: .restConnectionList, list: list(of: state.room)), in: state.room)
        outcome.deliveries += rest.deliveries
    }

    private func broadcast(_ message: Message, in room: String) -> Outcome {
        let text = message.jsonText()
        return Outcome(deliveries: (rooms[room] ?? [:]).values.map { Delivery(to: $0.socket, text: text) })
    }

    /// The error frame for a refused frame, and its log event.
    func refuse(_ socket: SocketID, type: String?, _ error: ProtocolError) -> Outcome {
        let state = sockets[socket]
        return Outcome(
            deliveries: [Delivery(to: socket, text: Message(error: error).jsonText())],
            events: [.refused(socket: socket, room: state?.room ?? "?", id: state?.user, type: type.map { Self.brief($0) }, error: error)]
        )
    }

    /// Why an id or username cannot be registered, if it cannot.
    ///
    /// Every member's id and name go to everyone in the room with each join, so their
    /// size bounds what one join costs; control characters have no place in a name and
    /// could rewrite a terminal that shows them.
    static func check(id: PeerID, username: String?, limits: Limits) -> ProtocolError? {
        if id.utf8.count > limits.maxIDBytes {
            return ProtocolError(.idTooLong, "'id' is \(id.utf8.count) bytes; this server takes at most \(limits.maxIDBytes)")
        }
        if id.hasControlCharacters {
            return ProtocolError(.invalidID, "'id' holds control characters")
        }
        guard let username else { return nil }
        if username.utf8.count > limits.maxNameBytes {
            return ProtocolError(.usernameTooLong, "'username' is \(username.utf8.count) bytes; this server takes at most \(limits.maxNameBytes)")
        }
        if username.hasControlCharacters {
            return ProtocolError(.invalidUsername, "'username' holds control characters")
        }
        return nil
    }

    /// Client text echoed in an error message or a log line, cut short: a refusal must
    /// not cost more than the frame it refuses.
    static func brief(_ text: String, limit: Int = 64) -> String {
        text.utf8.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
