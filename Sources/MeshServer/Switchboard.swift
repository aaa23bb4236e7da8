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
    enum LeaveReason: String, Equatable, Sendable {
        /// It sent `close_connection`.
        case closeConnection = "close_connection"
        /// Its socket closed or died without a `close_connection`.
        case socketClosed = "socket_closed"
        /// It stopped reading and was dropped.
        case slowConsumer = "slow_consumer"
        /// It went on sending faster than the rate limit and was closed.
        case rateLimited = "rate_limited"
    }

    /// Something worth a log line, or (`hubRoom`) something to act on.
    enum Event: Equatable {
        case joined(room: String, id: PeerID, username: String?)
        case left(room: String, id: PeerID, reason: LeaveReason)
        case refused(socket: SocketID, room: String, id: PeerID?, type: String?, error: ProtocolError)
        case relayed(room: String, from: PeerID, to: PeerID?, type: String)
        /// Someone joined or left a hub room: its hub is needed while `users` (not counting
        /// the hub) is above zero, and `hasHub` says whether it is there.
        case hubRoom(room: String, users: Int, hasHub: Bool)
    }

    /// The id a hub room keeps for its hub participant.
    static let hubID: PeerID = "hub"
    /// How the keys of hub rooms (`/hub/NAME`) begin.
    static let hubRoomPrefix = "/hub/"

    /// Whether users of `room` meet through a hub.
    static func isHub(_ room: String) -> Bool { room.hasPrefix(hubRoomPrefix) }

    /// A change to a room that, when rooms span servers, every server applies in one order
    /// (Redis decides it and hands it to all): what a socket here asked for, checked as far as
    /// this server can.
    enum Proposal: Equatable, Sendable {
        case join(socket: SocketID, room: String, id: PeerID, username: String?)
        case leave(socket: SocketID, room: String, id: PeerID, reason: LeaveReason)
        /// A frame for the room (targeted or to everyone), from a registered socket.
        case relay(socket: SocketID, text: String)
    }

    /// What one step produced.
    struct Outcome: Equatable {
        var deliveries: [Delivery] = []
        var events: [Event] = []
        /// Only when clustered: what is to be ordered with every server's before it happens.
        var proposals: [Proposal] = []
    }

    private struct Socket {
        var room: String
        var user: PeerID?
        /// The server's own hub participant: the only socket that may register as `hub`.
        var isHub = false
        /// Clustered: the id its `new_user` asked for, while that waits to be ordered.
        var joining: PeerID?
        /// Clustered: a socket of this server (the others' are known from their joins).
        var local = true
        /// Clustered: closed here, kept until its departure comes back ordered, so that what
        /// it sent before is still relayed.
        var closed = false
    }

    private struct Member {
        var socket: SocketID
        var username: String?
    }

    let limits: Limits
    /// Rooms span servers: a join, a departure or a relay is proposed rather than done, and
    /// done when it comes back (``applyJoin``, ``applyLeave``, ``applyRelay``) in the order
    /// every server sees.
    let clustered: Bool
    private var sockets: [SocketID: Socket] = [:]
    private var rooms: [String: [PeerID: Member]] = [:]

    init(limits: Limits = Limits(), clustered: Bool = false) {
        self.limits = limits
        self.clustered = clustered
    }

    /// The room and registered id of a socket, for log lines about it.
    func whereabouts(of socket: SocketID) -> (room: String, id: PeerID?)? {
        sockets[socket].map { ($0.room, $0.user) }
    }

    func isRegistered(_ socket: SocketID) -> Bool { sockets[socket]?.user != nil }

    /// The users registered in each room that has any.
    var roomSizes: [String: Int] { rooms.mapValues(\.count) }

    /// Users in a room, as the `list` field carries them.
    func list(of room: String) -> UserList {
        (rooms[room] ?? [:]).reduce(into: UserList()) { list, entry in
            list[entry.key] = User(id: entry.key, username: entry.value.username)
        }
    }

    /// The users `member` sees and reaches: everyone, except in a hub room, where a user
    /// sees itself and the hub, and only the hub sees everyone.
    private func view(of member: PeerID, in room: String) -> UserList {
        let all = list(of: room)
        guard Self.isHub(room), member != Self.hubID else { return all }
        return all.filter { $0.key == member || $0.key == Self.hubID }
    }

    /// `asHub`: the server's own hub participant of a hub room.
    mutating func open(_ socket: SocketID, room: String, asHub: Bool = false) {
        sockets[socket] = Socket(room: room, isHub: asHub)
    }

    /// The socket is gone: its user, if any, leaves as if it had sent `close_connection`.
    mutating func close(_ socket: SocketID, reason: LeaveReason = .socketClosed) -> Outcome {
        var outcome = Outcome()
        if clustered {
            // Its departure is announced when it comes back ordered.
            guard let state = sockets[socket], let id = state.user ?? state.joining else {
                sockets[socket] = nil
                return outcome
            }
            sockets[socket]?.closed = true
            outcome.proposals.append(.leave(socket: socket, room: state.room, id: id, reason: reason))
            return outcome
        }
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
        guard let state = sockets[socket], !state.closed else { return Outcome() }
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
            if state.joining != nil {
                return refuse(socket, type: type.rawValue, ProtocolError(.alreadyRegistered, "this socket's 'new_user' is being registered; wait for 'connection_list'"))
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
            if clustered {
                outcome.proposals.append(.leave(socket: socket, room: state.room, id: user, reason: .closeConnection))
                // It may not send more as this user: the room learns it left once ordered.
                sockets[socket]?.user = nil
                return outcome
            }
            leave(socket, reason: .closeConnection, into: &outcome)
            return outcome
        }
        if clustered { return Outcome(proposals: [.relay(socket: socket, text: text)]) }
        return relay(text, message, type: type, from: user, in: state.room)
    }

    /// A frame from `user` to its room: to its target, or to everyone else.
    private func relay(_ text: String, _ message: Message, type: MessageType, from user: PeerID, in room: String) -> Outcome {
        guard let socket = rooms[room]?[user]?.socket else { return Outcome() }
        var members = rooms[room] ?? [:]
        // In a hub room a user reaches only the hub (and itself), as it sees only the hub.
        if Self.isHub(room), user != Self.hubID { members = members.filter { $0.key == user || $0.key == Self.hubID } }
        if let target = message.targetId {
            guard let recipient = members[target] else {
                return refuse(socket, type: type.rawValue, ProtocolError(.unknownTarget, "no user '\(Self.brief(target))' in this room"))
            }
            return Outcome(
                deliveries: [Delivery(to: recipient.socket, text: text)],
                events: [.relayed(room: room, from: user, to: target, type: Self.brief(type.rawValue))]
            )
        }
        return Outcome(
            deliveries: members.filter { $0.key != user }.map { Delivery(to: $0.value.socket, text: text) },
            events: [.relayed(room: room, from: user, to: nil, type: Self.brief(type.rawValue))]
        )
    }

    private mutating func register(_ socket: SocketID, in room: String, message: Message) -> Outcome {
        guard let id = message.id, !id.isEmpty else {
            return refuse(socket, type: MessageType.newUser.rawValue, ProtocolError(.missingID, "'new_user' needs a non-empty string 'id'"))
        }
        if let error = Self.check(id: id, username: message.username, limits: limits) {
            return refuse(socket, type: MessageType.newUser.rawValue, error)
        }
        if Self.isHub(room), (id == Self.hubID) != (sockets[socket]?.isHub == true) {
            return refuse(socket, type: MessageType.newUser.rawValue, ProtocolError(.reservedID, "id '\(Self.hubID)' is the hub's in a hub room; pick another"))
        }
        if clustered {
            // Whether the id is free and the room has space, only Redis knows for every server.
            sockets[socket]?.joining = id
            return Outcome(proposals: [.join(socket: socket, room: room, id: id, username: message.username)])
        }
        if rooms[room]?[id] != nil { return refuse(socket, type: MessageType.newUser.rawValue, Self.duplicate(id)) }
        if let members = rooms[room], members.count >= limits.maxRoomSize {
            return refuse(socket, type: MessageType.newUser.rawValue, Self.full(members.count))
        }
        rooms[room, default: [:]][id] = Member(socket: socket, username: message.username)
        sockets[socket]?.user = id
        var outcome = announce(in: room, changedFor: id) { Message(type: .connectionList, newUserId: id, list: $0) }
        outcome.events.insert(.joined(room: room, id: id, username: message.username), at: 0)
        outcome.events += hubRoomEvent(room)
        return outcome
    }

    static func duplicate(_ id: PeerID) -> ProtocolError {
        ProtocolError(.duplicateID, "id '\(id)' is already connected in this room; pick another")
    }

    static func full(_ count: Int) -> ProtocolError {
        ProtocolError(.roomFull, "this room is full (\(count) users); try again later or use another room")
    }

    private mutating func leave(_ socket: SocketID, reason: LeaveReason, into outcome: inout Outcome) {
        guard let state = sockets[socket], let user = state.user else { return }
        sockets[socket]?.user = nil
        rooms[state.room]?[user] = nil
        if rooms[state.room]?.isEmpty == true { rooms[state.room] = nil }
        outcome.events.append(.left(room: state.room, id: user, reason: reason))
        let rest = announce(in: state.room, changedFor: user) { Message(type: .restConnectionList, list: $0) }
        outcome.deliveries += rest.deliveries
        outcome.events += hubRoomEvent(state.room)
    }

    /// Tells each member whose view `who` joining or leaving changed its new view: everyone,
    /// except in a hub room, where a user's comings and goings change only the hub's view
    /// (and the user's own), and the hub's change everyone's.
    private func announce(in room: String, changedFor who: PeerID, _ message: (UserList) -> Message) -> Outcome {
        let members = rooms[room] ?? [:]
        let told = Self.isHub(room) && who != Self.hubID ? members.filter { $0.key == who || $0.key == Self.hubID } : members
        guard Self.isHub(room) else {
            let text = message(list(of: room)).jsonText()
            return Outcome(deliveries: told.values.map { Delivery(to: $0.socket, text: text) })
        }
        return Outcome(deliveries: told.map { Delivery(to: $0.value.socket, text: message(view(of: $0.key, in: room)).jsonText()) })
    }

    private func hubRoomEvent(_ room: String) -> [Event] {
        guard Self.isHub(room) else { return [] }
        let members = rooms[room] ?? [:]
        return [.hubRoom(room: room, users: members.keys.count { $0 != Self.hubID }, hasHub: members[Self.hubID] != nil)]
    }

    // MARK: Rooms over several servers

    /// A join Redis ordered (on any server): done as ``receive(_:from:)`` would have done it
    /// on one server, its checks passed.
    mutating func applyJoin(socket: SocketID, room: String, id: PeerID, username: String?) -> Outcome {
        if sockets[socket] == nil { sockets[socket] = Socket(room: room, local: false) }
        sockets[socket]?.joining = nil
        sockets[socket]?.user = id
        rooms[room, default: [:]][id] = Member(socket: socket, username: username)
        var outcome = announce(in: room, changedFor: id) { Message(type: .connectionList, newUserId: id, list: $0) }
        if sockets[socket]?.local == true { outcome.events.insert(.joined(room: room, id: id, username: username), at: 0) }
        // Every server hears of a hub room's users: the one that holds its hub, or may take it.
        outcome.events += hubRoomEvent(room)
        return outcome
    }

    /// Redis refused a join proposed here (the id is taken, the room full).
    mutating func refuseJoin(socket: SocketID, _ error: ProtocolError) -> Outcome {
        guard let state = sockets[socket] else { return Outcome() }
        if state.closed {
            sockets[socket] = nil
            return Outcome()
        }
        sockets[socket]?.joining = nil
        return refuse(socket, type: MessageType.newUser.rawValue, error)
    }

    /// A departure Redis ordered: `id` leaves `room` if `socket` still holds it.
    mutating func applyLeave(socket: SocketID, room: String, id: PeerID, reason: LeaveReason) -> Outcome {
        let local = sockets[socket]?.local == true
        if sockets[socket]?.closed == true || !local {
            sockets[socket] = nil
        } else if sockets[socket]?.user == id {
            sockets[socket]?.user = nil
        }
        guard rooms[room]?[id]?.socket == socket else { return Outcome() }
        rooms[room]?[id] = nil
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
        var outcome = announce(in: room, changedFor: id) { Message(type: .restConnectionList, list: $0) }
        if local { outcome.events.insert(.left(room: room, id: id, reason: reason), at: 0) }
        outcome.events += hubRoomEvent(room)
        return outcome
    }

    /// This server's members, to be put back in Redis after it lost them (a restart).
    var localMembers: [(room: String, id: PeerID, socket: SocketID, username: String?)] {
        sockets.compactMap { socket, state in
            guard state.local, !state.closed, let user = state.user else { return nil }
            return (state.room, user, socket, rooms[state.room]?[user]?.username)
        }
    }

    /// Brings the other servers' members to what Redis holds (after it was out of reach):
    /// who is gone leaves, who came joins, each announced as usual.
    mutating func reconcile(with members: [(room: String, id: PeerID, socket: SocketID, username: String?)]) -> Outcome {
        var outcome = Outcome()
        func add(_ step: Outcome) {
            outcome.deliveries += step.deliveries
            outcome.events += step.events
        }
        let held = Set(members.map { [String($0.socket.value), $0.room, $0.id] })
        for member in remoteMembers where !held.contains([String(member.socket.value), member.room, member.id]) {
            add(applyLeave(socket: member.socket, room: member.room, id: member.id, reason: .socketClosed))
        }
        // This server's own joins and departures that Redis decided in log entries never read
        // here (a reader that fell behind): a join waiting here that Redis holds is done; a
        // closed socket that Redis no longer holds has left. (A live socket absent from Redis
        // stays: after a restart of Redis it is being put back.)
        for member in members where sockets[member.socket]?.local == true && sockets[member.socket]?.joining == member.id
            && rooms[member.room]?[member.id] == nil {
            add(applyJoin(socket: member.socket, room: member.room, id: member.id, username: member.username))
        }
        let gone = sockets.compactMap { socket, state -> (SocketID, String, PeerID)? in
            guard state.local, state.closed, let id = state.user ?? state.joining, !held.contains([String(socket.value), state.room, id]) else { return nil }
            return (socket, state.room, id)
        }
        for (socket, room, id) in gone { add(applyLeave(socket: socket, room: room, id: id, reason: .socketClosed)) }
        for member in members where sockets[member.socket]?.local != true && rooms[member.room]?[member.id]?.socket != member.socket {
            if let other = rooms[member.room]?[member.id]?.socket, sockets[other]?.local != true {
                add(applyLeave(socket: other, room: member.room, id: member.id, reason: .socketClosed))
            }
            guard rooms[member.room]?[member.id] == nil else { continue }
            add(applyJoin(socket: member.socket, room: member.room, id: member.id, username: member.username))
        }
        return outcome
    }

    /// A frame that could not be ordered (Redis out of reach): relayed to this server's
    /// members only; one for a member of another server is refused, saying why.
    func relayHere(socket: SocketID, text: String) -> Outcome {
        var outcome = applyRelay(socket: socket, text: text)
        if let target = (try? Message.decode(text))?.targetId, let room = sockets[socket]?.room,
           let recipient = rooms[room]?[target]?.socket, sockets[recipient]?.local != true {
            let error = ProtocolError(.unavailable, "'\(Self.brief(target))' is on another server, out of reach until the rooms' Redis is back; not relayed")
            outcome = refuse(socket, type: nil, error)
        }
        return outcome
    }

    /// The members of other servers, for their leases to be checked.
    var remoteMembers: [(room: String, id: PeerID, socket: SocketID)] {
        sockets.compactMap { socket, state in
            guard !state.local, let user = state.user else { return nil }
            return (state.room, user, socket)
        }
    }

    /// A frame Redis ordered, from the member `socket` is: relayed as on one server.
    func applyRelay(socket: SocketID, text: String) -> Outcome {
        guard let room = sockets[socket]?.room,
              let user = rooms[room]?.first(where: { $0.value.socket == socket })?.key,
              let message = try? Message.decode(text), let type = message.type else { return Outcome() }
        var outcome = relay(text, message, type: type, from: user, in: room)
        if sockets[socket]?.local != true { outcome.events = [] }
        return outcome
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
