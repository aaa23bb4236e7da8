import Logging
import MeshGateway
import MeshServer
import ServiceLifecycle

/// The hub participants of the server's hub rooms (`/hub/NAME`): while a hub room has
/// users, a gateway in this process joins it as `hub` (connected in memory) and sends each
/// user the composed picture of everyone and a mix of everyone else. It leaves when the
/// room empties, and is started again if it stops while users wait.
actor HubRooms: Service {
    private let server: MeshServer
    /// What every hub is started with; its server, id and name are set per room.
    private let template: GatewayConfiguration
    private let logger: Logger
    /// The running hub of each room.
    private var hubs: [String: Gateway] = [:]
    /// The last task of each room's hub, running or stopping: the next one waits for it,
    /// since the id `hub` is free only once the old one has left.
    private var tails: [String: Task<Void, Never>] = [:]

    init(server: MeshServer, template: GatewayConfiguration, logger: Logger) {
        self.server = server
        self.template = template
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await change in self.server.hubRoomChanges { await self.apply(change) }
        }
        for hub in hubs.values { hub.stop() }
        for tail in tails.values { await tail.value }
    }

    private func apply(_ change: HubRoomChange) async {
        if change.users == 0 {
            hubs.removeValue(forKey: change.room)?.stop()
        } else if hubs[change.room] == nil {
            // With --redis the room may span servers: only the one that claimed it runs its hub.
            if server.sharesRooms {
                guard !change.hasHub else { return }
                guard await server.claimHub(change.room) else { return recheck(change.room) }
                guard hubs[change.room] == nil else { return }
            }
            start(change.room)
        }
    }

    /// Another server holds the room's claim but runs no hub (it is stopping, or died):
    /// once its lease has had the time to lapse, the claim is tried again.
    private func recheck(_ room: String) {
        Task {
            try? await Task.sleep(for: .seconds(7))
            await self.takeOverIfHubless(room)
        }
    }

    private func takeOverIfHubless(_ room: String) async {
        let members = server.list(ofRoom: room)
        guard hubs[room] == nil, members[MeshServer.hubID] == nil, members.count > 0 else { return }
        guard await server.claimHub(room) else { return recheck(room) }
        if hubs[room] == nil { start(room) }
    }

    private func start(_ room: String) {
        var configuration = template
        configuration.id = MeshServer.hubID
        configuration.name = "Hub"
        configuration.serverURL = "ws://in-process\(room)"
        let server = server
        configuration.signallingLink = {
            let connection = server.connectHub(toRoom: room)
            return SignallingLink(inbound: connection.inbound, send: connection.send, close: connection.close)
        }
        var logger = Logger(label: "meshgate.hub")
        logger[metadataKey: "room"] = "\(room)"
        let gateway = Gateway(configuration: configuration, logger: logger)
        hubs[room] = gateway
        let previous = tails[room]
        tails[room] = Task {
            await previous?.value
            logger.info("hub starting")
            do {
                try await gateway.run()
                logger.info("hub stopped")
            } catch {
                logger.error("hub failed", metadata: ["reason": "\(error)"])
            }
            await self.ended(gateway, in: room)
        }
    }

    /// A hub ended: by itself (a failure) while users wait, a new one is started after a pause.
    private func ended(_ gateway: Gateway, in room: String) async {
        guard hubs[room] === gateway else { return }
        hubs[room] = nil
        try? await Task.sleep(for: .seconds(2))
        guard hubs[room] == nil, !server.list(ofRoom: room).filter({ $0.key != MeshServer.hubID }).isEmpty else { return }
        if server.sharesRooms {
            guard await server.claimHub(room), hubs[room] == nil else { return }
        }
        start(room)
    }
}
