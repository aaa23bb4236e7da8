import CoreMetrics
import MeshProtocol
import Synchronization

/// What `serve --metrics` shows of the signalling server. Counters move as frames come and
/// go; the gauges of sockets, rooms and users are read from the hub when scraped. No metric
/// names a user: a room's label is its path, which the operator chose or the clients did.
final class ServerMetrics: Sendable {
    private let factory: any MetricsFactory
    private let socketsOpen: Gauge
    private let connectionsOpen: Gauge
    private let connectionsRefused: [ConnectionLimits.Refusal: Counter]
    private let rooms: Gauge
    private let received: Counter
    private let sent: Counter
    private let slowConsumersDropped: Counter
    private let relayLatency: Timer
    private let relayed: [String: Counter]
    private let refused: [ProtocolError.Code: Counter]
    /// One gauge per room that has users; a room's gauge goes when the room empties.
    private let roomUsers = Mutex<[String: Gauge]>([:])

    /// The relayed types counted by name; any other type a client invents is `other`, so that
    /// clients cannot make a label per message.
    static let relayedTypes: [MessageType] = [.sendOffer, .sendAnswer, .newCandidate]

    init(factory: any MetricsFactory) {
        self.factory = factory
        socketsOpen = Gauge(label: "meshgate_server_sockets_open", factory: factory)
        connectionsOpen = Gauge(label: "meshgate_server_connections_open", factory: factory)
        connectionsRefused = [
            .total: Counter(label: "meshgate_server_connections_refused_total", dimensions: [("reason", "total")], factory: factory),
            .perAddress: Counter(label: "meshgate_server_connections_refused_total", dimensions: [("reason", "per_address")], factory: factory),
        ]
        rooms = Gauge(label: "meshgate_server_rooms", factory: factory)
        received = Counter(label: "meshgate_server_received_bytes_total", factory: factory)
        sent = Counter(label: "meshgate_server_sent_bytes_total", factory: factory)
        slowConsumersDropped = Counter(label: "meshgate_server_slow_consumers_dropped_total", factory: factory)
        relayLatency = Timer(label: "meshgate_server_relay_latency_seconds", factory: factory)
        var relayed: [String: Counter] = [:]
        for type in Self.relayedTypes.map(\.rawValue) + ["other"] {
            relayed[type] = Counter(label: "meshgate_server_messages_relayed_total", dimensions: [("type", type)], factory: factory)
        }
        self.relayed = relayed
        var refused: [ProtocolError.Code: Counter] = [:]
        for code in ProtocolError.Code.allCases {
            refused[code] = Counter(label: "meshgate_server_messages_refused_total", dimensions: [("code", code.rawValue)], factory: factory)
        }
        self.refused = refused
    }

    func received(bytes: Int) { received.increment(by: bytes) }
    func sent(bytes: Int) { sent.increment(by: bytes) }

    /// A message the server sent because of a frame read at `since` is now with its recipient's socket.
    func handedOver(since: ContinuousClock.Instant) {
        relayLatency.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - since))
    }

    func count(_ event: Switchboard.Event) {
        switch event {
        case .relayed(_, _, _, let type):
            (relayed[type] ?? relayed["other"])?.increment()
        case .refused(_, _, _, _, let error):
            refused(error.code)
        case .left(_, _, .slowConsumer):
            slowConsumersDropped.increment()
        default:
            break
        }
    }

    /// A frame, or a socket before its first frame (a wrong token), was refused.
    func refused(_ code: ProtocolError.Code) {
        refused[code]?.increment()
    }

    /// A connection was over `--max-connections` or `--max-connections-per-address`.
    func refusedConnection(_ refusal: ConnectionLimits.Refusal) {
        connectionsRefused[refusal]?.increment()
    }

    /// Sets the gauges from the hub's state, just before a scrape.
    func update(sockets: Int, roomSizes: [String: Int], connections: Int) {
        socketsOpen.record(sockets)
        connectionsOpen.record(connections)
        rooms.record(roomSizes.count)
        roomUsers.withLock { gauges in
            for (room, gauge) in gauges where roomSizes[room] == nil {
                gauge.destroy()
                gauges[room] = nil
            }
            for (room, users) in roomSizes {
                let gauge = gauges[room] ?? Gauge(label: "meshgate_server_room_users", dimensions: [("room", room)], factory: factory)
                gauges[room] = gauge
                gauge.record(users)
            }
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
