import Logging
import MeshProtocol
import ServiceLifecycle
import Synchronization

/// The live side of the ``Switchboard``: owns one outbox per socket and applies
/// every step under one lock, so all sockets see one order of events.
///
/// Delivering only enqueues into a socket's outbox; each socket's own task
/// writes it out, so a slow client never holds up the room.
final class SignalingHub: Sendable {
    /// What a socket's writer task is told to do.
    enum Outgoing: Sendable {
        case text(String)
        case close(code: UInt16, reason: String)
    }

    typealias Outbox = AsyncStream<Outgoing>

    private struct State {
        var switchboard = Switchboard()
        var outboxes: [SocketID: Outbox.Continuation] = [:]
        var nextSocket: UInt64 = 1
        var shuttingDown = false
    }

    private let state = Mutex(State())
    private let outboxLimit: Int
    let logger: Logger

    init(outboxLimit: Int, logger: Logger) {
        self.outboxLimit = outboxLimit
        self.logger = logger
    }

    /// Registers a new socket in a room and returns its id and outbox.
    func open(room: String) -> (SocketID, Outbox) {
        let (stream, continuation) = Outbox.makeStream(bufferingPolicy: .bufferingOldest(outboxLimit))
        let socket = state.withLock { state in
            let socket = SocketID(value: state.nextSocket)
            state.nextSocket += 1
            state.switchboard.open(socket, room: room)
            state.outboxes[socket] = continuation
            if state.shuttingDown { continuation.yield(.close(code: 1001, reason: "server shutting down")) }
            return socket
        }
        return (socket, stream)
    }

    /// The socket closed: its user leaves the room.
    func close(_ socket: SocketID) {
        apply { state in
            state.outboxes.removeValue(forKey: socket)?.finish()
            return state.switchboard.close(socket)
        }
    }

    func receive(_ text: String, from socket: SocketID) {
        apply { $0.switchboard.receive(text, from: socket) }
    }

    func receiveBinary(from socket: SocketID) {
        apply { $0.switchboard.receiveBinary(from: socket) }
    }

    /// Room list as the server holds it.
    func list(of room: String) -> UserList {
        state.withLock { $0.switchboard.list(of: room) }
    }

    /// Closes every socket with 1001 (going away); used on SIGINT/SIGTERM.
    func closeAll() {
        state.withLock { state in
            state.shuttingDown = true
            for continuation in state.outboxes.values {
                continuation.yield(.close(code: 1001, reason: "server shutting down"))
            }
        }
    }

    var openSockets: Int { state.withLock { $0.outboxes.count } }

    /// Runs one switchboard step and delivers its outcome under the same lock,
    /// then logs outside it.
    private func apply(_ step: (inout State) -> Switchboard.Outcome) {
        var events: [Switchboard.Event] = []
        state.withLock { state in
            var outcome = step(&state)
            var index = 0
            while index < outcome.deliveries.count {
                let delivery = outcome.deliveries[index]
                index += 1
                guard let outbox = state.outboxes[delivery.to] else { continue }
                if case .dropped = outbox.yield(.text(delivery.text)) {
                    // A client this far behind is not reading: drop it, and let the
                    // room learn it left like any other departure.
                    state.outboxes[delivery.to] = nil
                    outbox.finish()
                    let gone = state.switchboard.close(delivery.to, reason: .slowConsumer)
                    outcome.deliveries += gone.deliveries
                    outcome.events += gone.events
                }
            }
            events = outcome.events
        }
        for event in events { log(event) }
    }

    private func log(_ event: Switchboard.Event) {
        switch event {
        case .joined(let room, let id, let username):
            logger.info("join", metadata: ["room": "\(room)", "id": "\(id)", "username": "\(username ?? "")"])
        case .left(let room, let id, let reason):
            logger.info("leave", metadata: ["room": "\(room)", "id": "\(id)", "reason": "\(reason.rawValue)"])
        case .refused(let room, let id, let type, let error):
            logger.notice("refused", metadata: [
                "room": "\(room)", "id": "\(id ?? "-")", "type": "\(type ?? "-")",
                "code": "\(error.code.rawValue)", "reason": "\(error.message)",
            ])
        case .relayed(let room, let from, let to, let type):
            logger.debug("relay", metadata: ["room": "\(room)", "id": "\(from)", "to": "\(to ?? "*")", "type": "\(type)"])
        }
    }
}

extension SignalingHub: Service {
    /// Waits for shutdown, then says goodbye (1001) to every socket and gives
    /// them a moment to close before the HTTP server itself stops.
    func run() async throws {
        try? await gracefulShutdown()
        closeAll()
        let deadline = ContinuousClock.now + .seconds(3)
        while openSockets > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
