import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import MeshProtocol
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The signalling server of PROTOCOL.md: rooms by path, registration, relay,
/// validation; over plain HTTP the browser client (`GET /`, `GET /room/NAME`) and a
/// status page (`GET /status`).
///
/// `meshgate serve` runs it alone; `meshgate join` embeds it.
public struct MeshServer: Sendable {
    /// Shown on the status page and by `meshgate --version`.
    public static let version = "0.1.0"

    public let configuration: ServerConfiguration
    let hub: SignallingHub
    let connections: ConnectionLimits
    let logger: Logger
    /// Each join and departure in a hub room (`/hub/NAME`), in order: whoever runs the
    /// rooms' hub participants (``connectHub(toRoom:)``) starts and stops them from it.
    public let hubRoomChanges: AsyncStream<HubRoomChange>

    /// - Parameters:
    ///   - metrics: where the server's metrics go (`--metrics`); by default nowhere.
    ///   - cluster: rooms shared with other servers through Redis (`--redis`); by default this server's own.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "meshgate.server"),
                metrics: (any MetricsFactory)? = nil, cluster: RedisRooms? = nil) {
        self.configuration = configuration
        self.logger = logger
        connections = ConnectionLimits(.init(
            total: configuration.maxConnections, perAddress: configuration.maxConnectionsPerAddress,
            trustedProxies: Set(configuration.trustedProxies.compactMap(ConnectionLimits.normalized))
        ))
        let (changes, continuation) = AsyncStream<HubRoomChange>.makeStream()
        hubRoomChanges = changes
        self.hub = SignallingHub(
            rules: .init(maxIDBytes: configuration.maxIDBytes, maxNameBytes: configuration.maxNameBytes, maxRoomSize: configuration.maxRoomSize),
            limits: .init(
                maxOutboxBytes: configuration.maxOutboxBytes, rateLimit: configuration.rateLimit,
                rateBurst: configuration.rateBurst, byteRateLimit: configuration.byteRateLimit,
                byteRateBurst: configuration.byteRateBurst, refusalLogInterval: configuration.refusalLogInterval
            ),
            logger: logger,
            metrics: ServerMetrics(factory: metrics ?? NOOPMetricsHandler.instance),
            hubRooms: continuation,
            cluster: cluster
        )
    }

    /// Brings the metrics of what the server holds now (sockets, rooms, users per room) up to
    /// date; a metrics endpoint calls it before each scrape.
    public func updateMetrics() {
        hub.updateMetrics(connections: connections.open)
    }

    /// The services that make up the server, to run in a `ServiceGroup`.
    ///
    /// The hub comes last so that on graceful shutdown it runs first: every
    /// socket gets its 1001 before the HTTP server stops.
    ///
    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public func services(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> [any Service] {
        [try makeApplication(onListening: onListening), hub]
    }

    /// Runs until SIGINT or SIGTERM, then closes every socket with 1001 and returns.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(configuration: .init(
            services: try services(onListening: onListening),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    /// Whether rooms are shared with other servers (`--redis`).
    public var sharesRooms: Bool { hub.cluster != nil }

    /// Whether this server runs `room`'s hub: always when rooms are its own; with `--redis`,
    /// when no other live server claimed it.
    public func claimHub(_ room: String) async -> Bool {
        await hub.cluster?.claimHub(room) ?? true
    }

    /// Users in a room as the server holds them; the default room is `"/"`, others `"/room/NAME"`.
    public func list(ofRoom room: String) -> UserList {
        hub.list(of: room)
    }

    func makeApplication(onListening: @escaping @Sendable (Int) async -> Void) throws -> some ApplicationProtocol {
        let router = Router()
        let scheme = configuration.tls == nil ? "ws" : "wss"
        let status = { @Sendable (request: Request, problem: String?) in
            StatusPage.response(version: Self.version, webSocketURL: "\(scheme)://\(request.head.authority ?? "localhost")/", problem: problem)
        }
        router.get("/status") { request, _ in status(request, nil) }
        switch Result(catching: { () throws(ServerError) in try BrowserClient.load() }) {
        case .success(let client):
            for route in RoomPath.routes {
                router.get(route.path) { _, context in
                    guard RoomPath.room(named: context.parameters.get("name"), prefix: route.prefix) != nil else { throw HTTPError(.notFound) }
                    return BrowserClient.response(client.page)
                }
            }
            for (path, file) in client.assets {
                router.get(RouterPath(path)) { _, _ in BrowserClient.response(file) }
            }
        case .failure(let error):
            logger.error("no browser client; signalling works", metadata: ["reason": "\(error.description)"])
            router.get("/") { request, _ in status(request, error.description) }
        }

        let wsConfiguration = WebSocketServerConfiguration(
            maxFrameSize: configuration.maxMessageBytes,
            autoPing: configuration.pingInterval > 0 ? .enabled(timePeriod: .seconds(configuration.pingInterval)) : .disabled,
            closeTimeout: .seconds(5),
            // RFC 6455 8.1: a text frame that is not UTF-8 fails the connection (1007);
            // decoding it lossily would relay a different message than was sent.
            validateUTF8: true
        )
        let timeout = TimeAmount.nanoseconds(Int64(configuration.handshakeTimeout * 1e9))
        let origins = OriginList(configuration.allowedOrigins)
        let sockets = webSocketRouter().buildResponder()
        let upgrade = HTTPServerBuilder { responder in
            GuardedUpgradeChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    webSocketResponder: sockets,
                    configuration: .init(http1: .init(idleTimeout: timeout), ws: wsConfiguration)
                ),
                handshakeTimeout: timeout,
                origins: origins,
                limits: connections,
                metrics: hub.metrics,
                logger: logger
            )
        }
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            server = try .tls(upgrade, tlsConfiguration: Self.tlsConfiguration(tls))
        } else {
            server = upgrade
        }

        var httpLogger = logger
        // Hummingbird logs every request at info; keep the server's log to joins, leaves and refusals.
        httpLogger.logLevel = max(logger.logLevel, .warning)
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "meshgate/\(Self.version)"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: httpLogger
        )
    }

    /// Routes a WebSocket upgrade to its room; a request to any other path is not upgraded
    /// and gets the HTTP router's answer. Without the right token the socket is refused
    /// after the upgrade, where the client can be told why.
    private func webSocketRouter() -> Router<UpgradeContext> {
        let router = Router(context: UpgradeContext.self)
        for route in RoomPath.routes {
            router.ws(route.path) { _, context in
                RoomPath.room(named: context.parameters.get("name"), prefix: route.prefix) == nil ? .dontUpgrade : .upgrade([:])
            } onUpgrade: { inbound, outbound, context in
                // Always a room: shouldUpgrade let nothing else through.
                guard let room = RoomPath.room(named: context.requestContext.parameters.get("name"), prefix: route.prefix) else { return }
                let token = context.request.uri.queryParameters["token"].map(String.init) ?? ""
                guard configuration.token.map({ Self.constantTimeEqual(token, $0) }) ?? true else {
                    let error = ProtocolError(.unauthorized, "this server needs a token: add ?token=SECRET to the URL")
                    logger.notice("refused", metadata: ["room": "\(room)", "code": "\(error.code.rawValue)", "reason": "\(error.message)"])
                    hub.metrics.refused(error.code)
                    await Self.firstFrame(of: inbound, orAfter: .seconds(1))
                    try await outbound.write(.text(Message(error: error).jsonText()))
                    try await outbound.close(.policyViolation, reason: "unauthorized")
                    return
                }
                try await serve(room: room, inbound: inbound, outbound: outbound, channel: context.requestContext.channel)
            }
        }
        return router
    }

    /// How one socket's tasks ended.
    private enum Ending: Sendable {
        /// The client closed, or the connection died.
        case inputEnded
        /// The hub had the socket closed (shutdown, flood, no registration).
        case closedByHub
        /// The hub dropped the socket for not reading.
        case dropped
        /// The registration deadline passed; the socket goes on if it registered.
        case deadlinePassed
    }

    /// One socket's life: reads frames into the hub while its own task writes the outbox.
    private func serve(room: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async throws {
        let opened = hub.open(room: room)
        let (socket, hub) = (opened.socket, hub)
        defer { hub.close(socket) }
        let registerTimeout = configuration.registerTimeout
        let written = WriteConfirmation(loop: channel.eventLoop) { hub.written($0, to: socket) }
        let ending = try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask {
                for await outgoing in opened.outbox {
                    switch outgoing {
                    case .text(let text, let since):
                        try await outbound.writeTextMessage(text)
                        written.handed(text.utf8.count)
                        hub.metrics.handedOver(since: since)
                    case .close(let code, let reason):
                        try await Self.close(outbound, code: code, reason: reason, channel: channel)
                        return .closedByHub
                    }
                }
                // Only the hub ends an outbox without a close, when it drops the client.
                return .dropped
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: configuration.maxMessageBytes) {
                    switch message {
                    case .text(let text): hub.receive(text, from: socket)
                    case .binary(let data): hub.receiveBinary(data.readableBytes, from: socket)
                    }
                }
                return .inputEnded
            }
            group.addTask {
                // Ends only when the hub gives up on this client; a write blocked on its
                // full socket must not keep the frames waiting behind it in memory.
                for await _ in opened.dropped {}
                return Task.isCancelled ? .inputEnded : .dropped
            }
            if registerTimeout > 0 {
                group.addTask {
                    try await Task.sleep(for: .seconds(registerTimeout))
                    hub.expireIfUnregistered(socket, after: registerTimeout)
                    return .deadlinePassed
                }
            }
            var ending = Ending.deadlinePassed
            while ending == .deadlinePassed, let next = try await group.next() { ending = next }
            group.cancelAll()
            return ending
        }
        if ending == .dropped {
            // No close frame: it would wait behind everything the client did not read.
            try? await channel.close()
        }
    }

    /// Sends a close frame, or cuts the connection if the client does not take it within
    /// a few seconds: a client that does not read would otherwise hold the socket for good.
    private static func close(_ outbound: WebSocketOutboundWriter, code: UInt16, reason: String, channel: any Channel) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await outbound.close(.init(codeNumber: Int(code)), reason: reason)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return false
            }
            if try await group.next() == false { try? await channel.close() }
            group.cancelAll()
        }
    }

    /// Waits for the client's first frame, or gives up after `limit`.
    ///
    /// Refusals answer the first frame rather than racing the upgrade: some
    /// clients lose frames that arrive together with the 101 response.
    private static func firstFrame(of inbound: WebSocketInboundStream, orAfter limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var frames = inbound.makeAsyncIterator()
                _ = try? await frames.next()
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Token comparison that takes the same time wherever the first difference is.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }

    static func tlsConfiguration(_ files: ServerConfiguration.TLSFiles) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            // NIOSSL would accept TLS 1.0 and 1.1, which RFC 8996 deprecates; every browser has 1.2.
            tls.minimumTLSVersion = .tlsv12
            return tls
        } catch {
            throw ServerError("cannot load TLS certificate '\(files.certificate)' or key '\(files.privateKey)': \(error); give PEM files readable by this user")
        }
    }
}

/// A failure to start the server, with a message a user can act on.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
