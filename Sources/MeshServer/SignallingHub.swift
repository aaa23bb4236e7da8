#if canImport(CMalloc)
import CMalloc
#endif
import CoreMetrics
import Logging
import MeshProtocol
import ServiceLifecycle
import Synchronization

/// The live side of the ``Switchboard``: owns one outbox per socket and applies
/// every step under one lock, so all sockets see one order of events.
///
/// Delivering only enqueues into a socket's outbox; each socket's own task
/// writes it out, so a slow client never holds up the room. The hub also holds
/// what is per socket rather than per room: the rate limit, the bytes waiting
/// to be written, and the tally of refused frames the log sums up.
final class SignallingHub: Sendable {
    /// What a socket's writer task is told to do.
    enum Outgoing: Sendable {
        /// `since`: when the frame that caused it was read, for the relay latency.
        case text(String, since: ContinuousClock.Instant)
        case close(code: UInt16, reason: String)
    }

    typealias Outbox = AsyncStream<Outgoing>

    /// What one socket gets to send and to have waiting.
    struct Limits: Sendable {
        var maxOutboxBytes = 1 << 20
        var rateLimit: Double = 50
        var rateBurst = 200
        var byteRateLimit: Double = 256 * 1024
        var byteRateBurst = 2 << 20
        var refusalLogInterval: Duration = .seconds(10)
    }

    /// A socket's side of the hub, as its task uses it.
    struct Opened: Sendable {
        let socket: SocketID
        let outbox: Outbox
        /// Ends when the hub drops the socket for not reading: its task stops writing at once.
        let dropped: AsyncStream<Void>
    }

    private struct Connection {
        let outbox: Outbox.Continuation
        let dropped: AsyncStream<Void>.Continuation
        var queuedBytes = 0
        var bucket: TokenBucket
        /// Bytes, besides messages: 50 messages of 64 KB a second to everyone in a room are
        /// within the message rate but far beyond what signalling needs.
        var byteBucket: TokenBucket
        var refusals = RefusalTally()
        /// The hub is closing it (flood, no registration, not reading): what it sends is ignored.
        var closing = false
    }

    private enum LogLine {
        case event(Switchboard.Event)
        case summary(SocketID, room: String, id: PeerID?, RefusalTally.Summary)
    }

    private struct State {
        var switchboard: Switchboard
        var connections: [SocketID: Connection] = [:]
        var nextSocket: UInt64 = 1
        var shuttingDown = false
        /// A socket closed since memory was last handed back to the system.
        var closedSinceTrim = false
    }

    private let state: Mutex<State>
    let limits: Limits
    let logger: Logger
    let metrics: ServerMetrics
    /// Where joins and departures in hub rooms are told, for their hubs to be started and stopped.
    private let hubRooms: AsyncStream<HubRoomChange>.Continuation?
    /// `serve --redis`: rooms shared with other servers, every change ordered through Redis.
    let cluster: RedisRooms?

    init(rules: Switchboard.Limits = .init(), limits: Limits = .init(), logger: Logger,
         metrics: ServerMetrics = ServerMetrics(factory: NOOPMetricsHandler.instance),
         hubRooms: AsyncStream<HubRoomChange>.Continuation? = nil, cluster: RedisRooms? = nil) {
        var state = State(switchboard: Switchboard(limits: rules, clustered: cluster != nil))
        if let cluster {
            // This server's sockets are numbered in a range of its own.
            state.nextSocket = cluster.server << 40 | 1
            for member in cluster.snapshot.members {
                _ = state.switchboard.applyJoin(socket: member.socket, room: member.room, id: member.id, username: member.username)
            }
        }
        self.state = Mutex(state)
        self.limits = limits
        self.logger = logger
        self.metrics = metrics
        self.hubRooms = hubRooms
        self.cluster = cluster
        cluster?.start(RedisRooms.Handlers(
            apply: { [weak self] proposal in self?.applyOrdered(proposal) },
            refuseJoin: { [weak self] socket, error in self?.apply { state, _ in state.switchboard.refuseJoin(socket: socket, error) } },
            relayHere: { [weak self] socket, text in self?.apply { state, _ in state.switchboard.relayHere(socket: socket, text: text) } },
            remoteMembers: { [weak self] in self?.state.withLock { $0.switchboard.remoteMembers } ?? [] },
            localMembers: { [weak self] in self?.state.withLock { $0.switchboard.localMembers } ?? [] },
            reconcile: { [weak self] members in self?.apply { state, _ in state.switchboard.reconcile(with: members) } }
        ))
    }

    /// A change Redis ordered, from this server or another: applied as every server applies it.
    private func applyOrdered(_ proposal: Switchboard.Proposal) {
        apply { state, _ in
            switch proposal {
            case .join(let socket, let room, let id, let username):
                state.switchboard.applyJoin(socket: socket, room: room, id: id, username: username)
            case .leave(let socket, let room, let id, let reason):
                state.switchboard.applyLeave(socket: socket, room: room, id: id, reason: reason)
            case .relay(let socket, let text):
                state.switchboard.applyRelay(socket: socket, text: text)
            }
        }
    }

    /// Registers a new socket in a room; `asHub`: the server's own hub participant.
    func open(room: String, asHub: Bool = false) -> Opened {
        let (stream, continuation) = Outbox.makeStream()
        let (dropped, dropping) = AsyncStream<Void>.makeStream()
        let bucket = TokenBucket(rate: limits.rateLimit, burst: limits.rateBurst, now: .now)
        let byteBucket = TokenBucket(rate: limits.byteRateLimit, burst: limits.byteRateBurst, now: .now)
        let socket = state.withLock { state in
            let socket = SocketID(value: state.nextSocket)
            state.nextSocket += 1
            state.switchboard.open(socket, room: room, asHub: asHub)
            state.connections[socket] = Connection(outbox: continuation, dropped: dropping, bucket: bucket, byteBucket: byteBucket)
            if state.shuttingDown { continuation.yield(.close(code: 1001, reason: "server shutting down")) }
            return socket
        }
        return Opened(socket: socket, outbox: stream, dropped: dropped)
    }

    /// The socket closed: its user leaves the room.
    func close(_ socket: SocketID) {
        var idle = false
        apply { state, lines in
            guard var connection = state.connections.removeValue(forKey: socket) else { return .init() }
            connection.outbox.finish()
            connection.dropped.finish()
            state.closedSinceTrim = true
            idle = state.connections.isEmpty
            if let summary = connection.refusals.summary(at: .now, every: limits.refusalLogInterval, final: true),
               let place = state.switchboard.whereabouts(of: socket) {
                lines.append(.summary(socket, room: place.room, id: place.id, summary))
            }
            return state.switchboard.close(socket)
        }
        // The last socket gone is the moment the most memory can go back.
        if idle { trimMemory() }
    }

    func receive(_ text: String, from socket: SocketID) {
        metrics.received(bytes: text.utf8.count)
        apply { state, lines in
            admit(socket, bytes: text.utf8.count, in: &state, lines: &lines) { $0.switchboard.receive(text, from: socket) }
        }
    }

    func receiveBinary(_ bytes: Int, from socket: SocketID) {
        metrics.received(bytes: bytes)
        apply { state, lines in
            admit(socket, bytes: bytes, in: &state, lines: &lines) { $0.switchboard.receiveBinary(from: socket) }
        }
    }

    /// The socket's task wrote this many bytes of its outbox to the network.
    func written(_ bytes: Int, to socket: SocketID) {
        metrics.sent(bytes: bytes)
        state.withLock { $0.connections[socket]?.queuedBytes -= bytes }
    }

    /// Closes the socket with 1008 if it has not registered by now.
    func expireIfUnregistered(_ socket: SocketID, after seconds: Double) {
        apply { state, _ in
            guard var connection = state.connections[socket], !connection.closing,
                  !state.switchboard.isRegistered(socket) else { return .init() }
            let error = ProtocolError(.registerTimeout, "no valid 'new_user' within \(Self.shown(seconds)) s; closing")
            var outcome = state.switchboard.refuse(socket, type: nil, error)
            connection.closing = true
            for delivery in outcome.deliveries { connection.outbox.yield(.text(delivery.text, since: .now)) }
            connection.outbox.yield(.close(code: 1008, reason: "not registered in time"))
            state.connections[socket] = connection
            outcome.deliveries = []
            return outcome
        }
    }

    /// Room list as the server holds it.
    func list(of room: String) -> UserList {
        state.withLock { $0.switchboard.list(of: room) }
    }

    /// Closes every socket with 1001 (going away); used on SIGINT/SIGTERM.
    func closeAll() {
        state.withLock { state in
            state.shuttingDown = true
            for connection in state.connections.values {
                connection.outbox.yield(.close(code: 1001, reason: "server shutting down"))
            }
        }
    }

    var openSockets: Int { state.withLock { $0.connections.count } }

    /// Sets the metrics' gauges of sockets, rooms and users to what the hub holds now, and
    /// of TCP connections (HTTP and WebSocket, counted by the server) to `connections`.
    func updateMetrics(connections: Int) {
        let (sockets, rooms) = state.withLock { ($0.connections.count, $0.switchboard.roomSizes) }
        metrics.update(sockets: sockets, roomSizes: rooms, connections: connections)
    }

    /// Logs the summaries that are due, and hands freed memory back if sockets closed.
    func tick(now: ContinuousClock.Instant = .now) {
        var lines: [LogLine] = []
        let trim = state.withLock { state in
            for socket in Array(state.connections.keys) {
                guard let summary = state.connections[socket]?.refusals.summary(at: now, every: limits.refusalLogInterval),
                      let place = state.switchboard.whereabouts(of: socket) else { continue }
                lines.append(.summary(socket, room: place.room, id: place.id, summary))
            }
            defer { state.closedSinceTrim = false }
            return state.closedSinceTrim
        }
        for line in lines { log(line) }
        if trim { trimMemory() }
    }

    /// Spends one of the socket's message tokens and `bytes` of its byte tokens on `step`,
    /// or refuses the frame; a socket that goes on past its burst of refusals is closed,
    /// since it is not listening to them.
    private func admit(
        _ socket: SocketID, bytes: Int, in state: inout State, lines: inout [LogLine], _ step: (inout State) -> Switchboard.Outcome
    ) -> Switchboard.Outcome {
        let now = ContinuousClock.now
        guard var connection = state.connections[socket], !connection.closing else { return .init() }
        let overRate = !connection.bucket.take(at: now)
        let overBytes = !overRate && !connection.byteBucket.take(bytes, at: now)
        state.connections[socket] = connection
        if !overRate && !overBytes { return step(&state) }
        guard connection.refusals.count(of: .rateLimited) >= limits.rateBurst else {
            let limit = overRate ? "\(Self.shown(limits.rateLimit)) messages" : "\(Self.shown(limits.byteRateLimit)) bytes"
            let error = ProtocolError(.rateLimited, "more than \(limit) a second; this one was not relayed")
            return state.switchboard.refuse(socket, type: nil, error)
        }
        connection.closing = true
        connection.outbox.yield(.close(code: 1008, reason: "rate limit exceeded"))
        if let summary = connection.refusals.summary(at: now, every: limits.refusalLogInterval, final: true),
           let place = state.switchboard.whereabouts(of: socket) {
            lines.append(.summary(socket, room: place.room, id: place.id, summary))
        }
        state.connections[socket] = connection
        return state.switchboard.close(socket, reason: .rateLimited)
    }

    /// `50`, `2.5`: a limit as a person writes it.
    static func shown(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? "\(Int(number))" : "\(number)"
    }

    /// Runs one step and delivers its outcome under the same lock, then logs outside it.
    private func apply(_ step: (inout State, inout [LogLine]) -> Switchboard.Outcome) {
        let now = ContinuousClock.now
        var lines: [LogLine] = []
        state.withLock { state in
            var outcome = step(&state, &lines)
            var index = 0
            while index < outcome.deliveries.count {
                let delivery = outcome.deliveries[index]
                index += 1
                guard var connection = state.connections[delivery.to], !connection.closing else { continue }
                let bytes = delivery.text.utf8.count
                // Counted in bytes, not frames: a thousand 60 KB frames are not a thousand
                // candidates. A frame always goes out to an empty outbox, however large.
                if connection.queuedBytes > 0, connection.queuedBytes + bytes > limits.maxOutboxBytes {
                    // A client this far behind is not reading: drop it, and let the
                    // room learn it left like any other departure.
                    connection.closing = true
                    connection.outbox.finish()
                    connection.dropped.finish()
                    state.connections[delivery.to] = connection
                    let gone = state.switchboard.close(delivery.to, reason: .slowConsumer)
                    outcome.deliveries += gone.deliveries
                    outcome.events += gone.events
                    outcome.proposals += gone.proposals
                    continue
                }
                connection.queuedBytes += bytes
                connection.outbox.yield(.text(delivery.text, since: now))
                state.connections[delivery.to] = connection
            }
            // Submitted under the lock: Redis orders them as they happened here.
            if let cluster, !outcome.proposals.isEmpty { cluster.submit(outcome.proposals) }
            for event in outcome.events {
                metrics.count(event)
                if case .refused(let socket, _, _, _, let error) = event,
                   state.connections[socket]?.refusals.count(error.code, at: .now) == false {
                    continue
                }
                lines.append(.event(event))
            }
        }
        for line in lines { log(line) }
    }

    private func trimMemory() {
        #if canImport(CMalloc)
        // glibc keeps freed memory in its arenas; after a crowd left, the server would
        // otherwise stay at its peak size for good.
        _ = malloc_trim(0)
        #endif
    }

    private func log(_ line: LogLine) {
        switch line {
        case .event(.joined(let room, let id, let username)):
            logger.info("join", metadata: ["room": "\(room)", "id": "\(id)", "username": "\(username ?? "")"])
        case .event(.left(let room, let id, let reason)):
            logger.info("leave", metadata: ["room": "\(room)", "id": "\(id)", "reason": "\(reason.rawValue)"])
        case .event(.refused(let socket, let room, let id, let type, let error)):
            logger.notice("refused", metadata: [
                "room": "\(room)", "id": "\(id ?? "-")", "type": "\(type ?? "-")", "socket": "\(socket)",
                "code": "\(error.code.rawValue)", "reason": "\(error.message)",
            ])
        case .event(.relayed(let room, let from, let to, let type)):
            logger.debug("relay", metadata: ["room": "\(room)", "id": "\(from)", "to": "\(to ?? "*")", "type": "\(type)"])
        case .event(.hubRoom(let room, let users, let hasHub)):
            hubRooms?.yield(HubRoomChange(room: room, users: users, hasHub: hasHub))
        case .summary(let socket, let room, let id, let summary):
            let seconds = Double(summary.over.components.seconds) + Double(summary.over.components.attoseconds) / 1e18
            logger.notice("refused frames", metadata: [
                "room": "\(room)", "id": "\(id ?? "-")", "socket": "\(socket)",
                "count": "\(summary.count)", "codes": "\(summary.codeList)",
                "over_s": "\((seconds * 10).rounded() / 10)",
            ])
        }
    }
}

extension SignallingHub: Service {
    /// Sums up refusals and trims memory every interval until shutdown, then says
    /// goodbye (1001) to every socket and gives them a moment to close before the
    /// HTTP server itself stops.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: self.limits.refusalLogInterval)
                self.tick()
            }
        }
        closeAll()
        let deadline = ContinuousClock.now + .seconds(3)
        while openSockets > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        cluster?.stop()
    }
}
