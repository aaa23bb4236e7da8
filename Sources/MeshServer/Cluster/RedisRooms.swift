import Foundation
import Logging
import MeshProtocol
import Redis
import Synchronization

/// Rooms shared by every `meshgate serve` on one Redis (`serve --redis`). Each server keeps
/// the same rooms (a ``Switchboard`` in clustered mode); what its sockets ask for is ordered
/// through Redis and applied by every server in that one order:
///
/// - a join is decided by a script, atomically (the id free in the room, the room not full),
///   which records the member and appends it to the log, the stream `meshgate:log`;
/// - a departure is removed the same way, if the socket still holds the id;
/// - a relayed frame is appended to the log as it is.
///
/// Every server reads the log from where its snapshot of the rooms was taken. Each change of
/// a room's members carries its number (`meshgate:log:changes`): a server that finds one
/// missing (it fell so far behind that the log was trimmed past it) reads the rooms afresh.
/// Each server keeps a lease (`meshgate:server:N`, renewed every 2 s for 6 s); a server whose
/// lease ran out (killed, cut off) has its members removed by the others, with
/// `rest_connection_list`.
///
/// Blocking hiredis calls run on two threads of its own: one writes in order, one reads.
public final class RedisRooms: Sendable {
    /// Where it runs, and the names of its keys.
    public let address: RedisAddress
    /// This server's number: the high bits of its sockets' ids, and its lease's name.
    let server: UInt64
    public var serverNumber: UInt64 { server }
    let snapshot: Snapshot
    private let logger: Logger
    private let writer = DispatchQueue(label: "meshgate.redis.writer")
    /// The writer's connection and what it keeps while Redis is out of reach.
    private let held: WriterState
    private let running = Atomic<Bool>(true)
    private let handlers = Mutex<Handlers?>(nil)

    static let log = "meshgate:log"
    /// How many changes of members the log has had: each such entry carries its number.
    static let changes = "meshgate:log:changes"
    static let rooms = "meshgate:rooms"
    static func room(_ name: String) -> String { "meshgate:room:" + name }
    static func lease(_ server: UInt64) -> String { "meshgate:server:\(server)" }
    static let lease: Duration = .seconds(6)
    static let renewal: Duration = .seconds(2)
    /// The log keeps about this many entries: a server reads it within moments (one that
    /// loses Redis reads the rooms afresh when it is back; one this far behind finds a change
    /// missing and does the same; the relays it missed are lost).
    static let logLength = 100_000

    /// The rooms as Redis held them when this server started, and where the log stood then.
    struct Snapshot: Sendable {
        var position: String
        /// The number of the last change of members in the log then.
        var changes: Int
        var members: [Member]
    }

    /// What the hub does with what comes back ordered, with a join Redis refused, and with a
    /// frame it could not order.
    struct Handlers: Sendable {
        let apply: @Sendable (Switchboard.Proposal) -> Void
        let refuseJoin: @Sendable (SocketID, ProtocolError) -> Void
        /// A frame Redis cannot order now: relayed to this server's members only.
        let relayHere: @Sendable (SocketID, String) -> Void
        /// The other servers' members, for their leases to be checked.
        let remoteMembers: @Sendable () -> [(room: String, id: PeerID, socket: SocketID)]
        /// This server's members, put back after Redis lost them.
        let localMembers: @Sendable () -> [Member]
        /// The other servers' members as Redis holds them, after it was out of reach.
        let reconcile: @Sendable ([Member]) -> Void
    }

    typealias Member = (room: String, id: PeerID, socket: SocketID, username: String?)

    /// Connects, takes a number for this server and a snapshot of the rooms; throws, saying
    /// why, when Redis cannot be used.
    public static func connect(_ address: RedisAddress, logger: Logger) throws(RedisError) -> RedisRooms {
        let connection = try RedisConnection(address)
        guard case .integer(let number) = try connection.run(["INCR", "meshgate:servers"]) else {
            throw RedisError("Redis at \(address) gave no server number (is meshgate:servers a number?)")
        }
        let server = UInt64(number) & 0xFFFFFF
        _ = try connection.run(["SET", lease(server), "1", "PX", String(Self.milliseconds(Self.lease))])
        let snapshot = try Self.snapshot(connection)
        return RedisRooms(address: address, server: server, snapshot: snapshot, connection: connection, logger: logger)
    }

    private init(address: RedisAddress, server: UInt64, snapshot: Snapshot, connection: RedisConnection, logger: Logger) {
        self.address = address
        self.server = server
        self.snapshot = snapshot
        self.held = WriterState(connection)
        self.logger = logger
    }

    /// Starts reading the log and keeping the lease.
    func start(_ handlers: Handlers) {
        self.handlers.withLock { $0 = handlers }
        let reader = Thread { [self] in read(from: snapshot) }
        reader.name = "meshgate.redis.reader"
        reader.start()
        writer.async { [self] in keepLease() }
    }

    /// Stops after what was submitted is written (the departures of its closed sockets among
    /// it); the lease is given back, so the others drop whatever is left of this server's
    /// members at their next check, within 2 s, rather than after the lease.
    func stop() {
        writer.sync {
            running.store(false, ordering: .sequentiallyConsistent)
            _ = try? run(["DEL", Self.lease(server)])
        }
    }

    /// Orders what sockets here asked for, in the order given.
    func submit(_ proposals: [Switchboard.Proposal]) {
        writer.async { [self] in
            for proposal in proposals { write(proposal) }
        }
    }

    // MARK: Writing

    private func write(_ proposal: Switchboard.Proposal) {
        guard !held.down else { return writeHere(proposal) }
        do {
            switch proposal {
            case .join(let socket, let room, let id, let username):
                let member = Self.member(socket: socket, username: username)
                let answer = try run(["EVAL", Self.joinScript, "4", Self.room(room), Self.rooms, Self.log, Self.changes,
                                      room, id, member, String(maxRoomSize), String(Self.logLength)])
                switch answer.string {
                case "ok": break
                case "duplicate": refuseJoin(socket, Switchboard.duplicate(id))
                case let full? where full.hasPrefix("full:"): refuseJoin(socket, Switchboard.full(Int(full.dropFirst(5)) ?? maxRoomSize))
                default: refuseJoin(socket, ProtocolError(.unavailable, "the rooms' Redis did not take 'new_user': \(answer)"))
                }
            case .leave(let socket, let room, let id, let reason):
                _ = try leave(socket: socket, room: room, id: id, reason: reason)
            case .relay(let socket, let text):
                _ = try run(["XADD", Self.log, "MAXLEN", "~", String(Self.logLength), "*", "k", "r", "s", String(socket.value), "t", text])
            }
        } catch {
            logger.error("Redis cannot be reached: this server relays between its own users only until it is back", metadata: [
                "redis": "\(address)", "reason": "\(error.description)",
            ])
            held.down = true
            writeHere(proposal)
        }
    }

    /// What a proposal becomes while Redis is out of reach: a relay reaches this server's
    /// users, a departure is announced to them (and told to Redis once it is back), a join
    /// is refused.
    private func writeHere(_ proposal: Switchboard.Proposal) {
        guard let handlers = handlers.withLock({ $0 }) else { return }
        switch proposal {
        case .join(let socket, _, _, _):
            handlers.refuseJoin(socket, ProtocolError(.unavailable, "cannot register now: the rooms' Redis is out of reach; try again in a moment"))
        case .relay(let socket, let text):
            handlers.relayHere(socket, text)
        case .leave:
            held.pendingLeaves.append(proposal)
            handlers.apply(proposal)
        }
    }

    var maxRoomSize: Int { maxRoom.load(ordering: .relaxed) }
    private let maxRoom = Atomic<Int>(64)

    /// The room size the join script enforces (`--max-room-size`).
    public func limitRooms(to size: Int) { maxRoom.store(size, ordering: .relaxed) }

    private func refuseJoin(_ socket: SocketID, _ error: ProtocolError) {
        handlers.withLock { $0 }?.refuseJoin(socket, error)
    }

    /// Runs a command on the writer's connection, connecting again if it had failed (on
    /// `writer` only).
    private func run(_ arguments: [String]) throws(RedisError) -> RedisReply {
        let current: RedisConnection
        if let connection = held.connection {
            current = connection
        } else {
            current = try RedisConnection(address)
            held.connection = current
        }
        do {
            return try current.run(arguments)
        } catch {
            held.connection = nil
            throw error
        }
    }

    /// Whether this server may run `room`'s hub: it holds the claim already, or the server
    /// that held it has no lease any more. One server of all runs a hub room's hub.
    func claimHub(_ room: String) async -> Bool {
        await withCheckedContinuation { continuation in
            writer.async { [self] in
                let answer = try? run(["EVAL", Self.claimScript, "1", "meshgate:hub:" + room, String(server), "meshgate:server:"])
                continuation.resume(returning: answer == .integer(1))
            }
        }
    }

    /// Renews the lease every 2 s, and removes the members of servers whose lease ran out.
    private func keepLease() {
        guard running.load(ordering: .sequentiallyConsistent) else { return }
        do {
            _ = try run(["SET", Self.lease(server), "1", "PX", String(Self.milliseconds(Self.lease))])
            if held.down { try comeBack() }
            if ContinuousClock.now >= held.sweepNotBefore { try sweep() }
        } catch {
            if !held.down {
                logger.warning("cannot renew this server's lease in Redis", metadata: ["redis": "\(address)", "reason": "\(error.description)"])
            }
            held.down = true
        }
        writer.asyncAfter(deadline: .now() + .milliseconds(Int(Self.milliseconds(Self.renewal)))) { [self] in keepLease() }
    }

    /// Redis is back: this server's members are put back (a restarted Redis lost them), the
    /// departures it missed are told, and other servers' leases are not judged before each
    /// had the time to renew its own.
    private func comeBack() throws(RedisError) {
        for member in handlers.withLock({ $0 })?.localMembers() ?? [] {
            let answer = try run(["EVAL", Self.reassertScript, "4", Self.room(member.room), Self.rooms, Self.log, Self.changes, member.room, member.id,
                                  Self.member(socket: member.socket, username: member.username), String(Self.logLength)])
            if answer.string == "taken" {
                logger.warning("after Redis came back, another server's user holds this id", metadata: ["room": "\(member.room)", "id": "\(member.id)"])
            }
        }
        for departure in held.pendingLeaves {
            if case .leave(let socket, let room, let id, let reason) = departure {
                _ = try leave(socket: socket, room: room, id: id, reason: reason)
            }
        }
        held.pendingLeaves = []
        held.down = false
        held.sweepNotBefore = .now + Self.lease
        logger.notice("Redis is back: relaying between servers again", metadata: ["redis": "\(address)"])
    }

    /// Removes `id` from `room` if `socket` still holds it, and logs the departure; whether it did.
    private func leave(socket: SocketID, room: String, id: PeerID, reason: Switchboard.LeaveReason) throws(RedisError) -> Bool {
        try run(["EVAL", Self.leaveScript, "4", Self.room(room), Self.rooms, Self.log, Self.changes,
                 room, id, String(socket.value), reason.rawValue, String(Self.logLength)]).string == "ok"
    }

    private func sweep() throws(RedisError) {
        guard let members = handlers.withLock({ $0 })?.remoteMembers() else { return }
        var alive: [UInt64: Bool] = [:]
        for member in members {
            let owner = member.socket.value >> 40
            if alive[owner] == nil { alive[owner] = try run(["EXISTS", Self.lease(owner)]) == .integer(1) }
            guard alive[owner] == false else { continue }
            if try leave(socket: member.socket, room: member.room, id: member.id, reason: .socketClosed) {
                logger.notice("a server's lease ran out: its user left", metadata: ["room": "\(member.room)", "id": "\(member.id)", "server": "\(owner)"])
            }
        }
    }

    // MARK: Reading

    private func read(from start: Snapshot) {
        var (position, changes) = (start.position, start.changes)
        var connection: RedisConnection?
        var failing = false
        while running.load(ordering: .sequentiallyConsistent) {
            do {
                let reader = try connection ?? RedisConnection(address, timeout: .seconds(5))
                connection = reader
                if failing {
                    // Every server puts its members back within a lease renewal: then the
                    // rooms Redis holds are the true ones.
                    Thread.sleep(forTimeInterval: 3)
                    (position, changes) = try readAfresh(reader)
                    failing = false
                }
                let reply = try reader.run(["XREAD", "COUNT", "500", "BLOCK", "1000", "STREAMS", Self.log, position])
                entries: for stream in reply.array ?? [] {
                    for entry in stream.array?.last?.array ?? [] {
                        guard let fields = entry.array, fields.count == 2, let id = fields[0].string else { continue }
                        let values = Self.values(fields[1].array ?? [])
                        if let number = values["n"].flatMap({ Int($0) }) {
                            guard number == changes + 1 else {
                                // The log was trimmed past entries not read yet: the rooms as
                                // they are now replace them (and the rest of this batch).
                                logger.warning("this server fell behind Redis's log and missed changes: reading the rooms afresh",
                                               metadata: ["expected": "\(changes + 1)", "found": "\(number)"])
                                (position, changes) = try readAfresh(reader)
                                break entries
                            }
                            changes = number
                        }
                        position = id
                        if let proposal = Self.proposal(values) { handlers.withLock { $0 }?.apply(proposal) }
                    }
                }
            } catch {
                connection = nil
                if !failing {
                    logger.error("lost Redis; users on other servers are out of reach until it is back", metadata: [
                        "redis": "\(address)", "reason": "\(error)",
                    ])
                    failing = true
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// Takes the rooms as Redis holds them now in place of this server's; where the log stands.
    private func readAfresh(_ reader: RedisConnection) throws(RedisError) -> (position: String, changes: Int) {
        let snapshot = try Self.snapshot(reader)
        handlers.withLock { $0 }?.reconcile(snapshot.members)
        return (snapshot.position, snapshot.changes)
    }

    /// A log entry's fields by name.
    static func values(_ fields: [RedisReply]) -> [String: String] {
        var values: [String: String] = [:]
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            if let key = fields[index].string, let value = fields[index + 1].string { values[key] = value }
        }
        return values
    }

    /// A log entry as the switchboard applies it; nil for one it cannot read.
    static func proposal(_ values: [String: String]) -> Switchboard.Proposal? {
        guard let socket = values["s"].flatMap(UInt64.init).map(SocketID.init(value:)) else { return nil }
        switch values["k"] {
        case "j":
            guard let room = values["r"], let id = values["i"], let member = values["v"] else { return nil }
            return .join(socket: socket, room: room, id: id, username: Self.username(member))
        case "l":
            guard let room = values["r"], let id = values["i"], let reason = values["w"].flatMap(Switchboard.LeaveReason.init) else { return nil }
            return .leave(socket: socket, room: room, id: id, reason: reason)
        case "r":
            return values["t"].map { .relay(socket: socket, text: $0) }
        default:
            return nil
        }
    }

    // MARK: Encoding and scripts

    /// A member as its room's hash keeps it: the socket, then the username on a line of its own
    /// (a username holds no control characters).
    static func member(socket: SocketID, username: String?) -> String {
        String(socket.value) + (username.map { "\n" + $0 } ?? "")
    }

    static func username(_ member: String) -> String? {
        member.firstIndex(of: "\n").map { String(member[member.index(after: $0)...]) }
    }

    private static func snapshot(_ connection: RedisConnection) throws(RedisError) -> Snapshot {
        let reply = try connection.run(["EVAL", snapshotScript, "3", log, rooms, changes, "meshgate:room:"])
        guard let items = reply.array, items.count >= 2, let position = items[0].string, let changes = items[1].string.flatMap({ Int($0) }) else {
            throw RedisError("Redis gave no snapshot of the rooms: \(reply)")
        }
        var members: [(room: String, id: PeerID, socket: SocketID, username: String?)] = []
        for index in stride(from: 2, to: items.count - 1, by: 2) {
            guard let room = items[index].string, let fields = items[index + 1].array else { continue }
            for field in stride(from: 0, to: fields.count - 1, by: 2) {
                guard let id = fields[field].string, let member = fields[field + 1].string,
                      let socket = member.split(separator: "\n", maxSplits: 1).first.flatMap({ UInt64($0) }) else { continue }
                members.append((room, id, SocketID(value: socket), username(member)))
            }
        }
        return Snapshot(position: position, changes: changes, members: members)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// KEYS: the room's hash, the set of rooms, the log, the count of changes. ARGV: room, id,
    /// member, most members, log length.
    static let joinScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 'duplicate' end
        local count = redis.call('HLEN', KEYS[1])
        if count >= tonumber(ARGV[4]) then return 'full:' .. count end
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
        redis.call('SADD', KEYS[2], ARGV[1])
        local socket = string.match(ARGV[3], '^[^\\n]*')
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'k', 'j', 's', socket, 'r', ARGV[1], 'i', ARGV[2], 'v', ARGV[3],
                   'n', redis.call('INCR', KEYS[4]))
        return 'ok'
        """

    /// KEYS: the room's hash, the set of rooms, the log, the count of changes. ARGV: room, id,
    /// socket, reason, log length.
    static let leaveScript = """
        local member = redis.call('HGET', KEYS[1], ARGV[2])
        if not member or string.match(member, '^[^\\n]*') ~= ARGV[3] then return 'gone' end
        redis.call('HDEL', KEYS[1], ARGV[2])
        if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'k', 'l', 's', ARGV[3], 'r', ARGV[1], 'i', ARGV[2], 'w', ARGV[4],
                   'n', redis.call('INCR', KEYS[4]))
        return 'ok'
        """

    /// KEYS: the room's hash, the set of rooms, the log, the count of changes. ARGV: room, id,
    /// member, log length.
    /// A member of this server put back after Redis lost it: kept if it is there, refused if
    /// another holds the id, else recorded and announced.
    static let reassertScript = """
        local current = redis.call('HGET', KEYS[1], ARGV[2])
        if current == ARGV[3] then return 'kept' end
        if current then return 'taken' end
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
        redis.call('SADD', KEYS[2], ARGV[1])
        local socket = string.match(ARGV[3], '^[^\\n]*')
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'k', 'j', 's', socket, 'r', ARGV[1], 'i', ARGV[2], 'v', ARGV[3],
                   'n', redis.call('INCR', KEYS[4]))
        return 'ok'
        """

    /// KEYS: the hub room's claim. ARGV: this server, the leases' prefix.
    static let claimScript = """
        local owner = redis.call('GET', KEYS[1])
        if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
        """

    /// KEYS: the log, the set of rooms, the count of changes. ARGV: the rooms' hashes' prefix.
    /// The log's last entry and the count of changes, then each room and its members, read in
    /// one step so that they agree.
    static let snapshotScript = """
        local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
        local result = { '0-0', redis.call('GET', KEYS[3]) or '0' }
        if #last > 0 then result[1] = last[1][1] end
        for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            table.insert(result, room)
            table.insert(result, redis.call('HGETALL', ARGV[1] .. room))
        end
        return result
        """
}

/// The writer's connection and what it keeps while Redis is out of reach, touched on the
/// writer's queue only: the queue is its lock.
private final class WriterState: @unchecked Sendable {
    var connection: RedisConnection?
    /// Redis failed: proposals are done here only until the lease timer reaches it again.
    var down = false
    /// Departures done here while it was down, to be told to Redis when it is back.
    var pendingLeaves: [Switchboard.Proposal] = []
    /// Other servers' leases are judged from then on (after Redis came back).
    var sweepNotBefore = ContinuousClock.now

    init(_ connection: RedisConnection) {
        self.connection = connection
    }
}
