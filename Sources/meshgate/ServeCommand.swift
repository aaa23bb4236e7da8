import ArgumentParser
import Foundation
import Logging
import MeshServer
import NIOCore
import Redis
import ServiceLifecycle
import MeshGateway

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the signalling server for the mesh-call protocol."
    )

    @OptionGroup var listening: ListeningOptions

    @Option(help: ArgumentHelp("Require this token: clients connect with ?token=SECRET.", valueName: "SECRET"))
    var token: String?

    @Option(help: ArgumentHelp("PEM certificate chain; with --tls-key serves wss:// and https://.", valueName: "FILE"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key for --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(help: "Largest message accepted, in bytes; a larger one closes that socket with status 1009.")
    var maxMessageBytes = 65536

    @Option(help: ArgumentHelp("Seconds between pings; a socket that misses a pong is dropped (0: off).", valueName: "SECONDS"))
    var pingInterval: Double = 20

    @Option(help: ArgumentHelp("Longest user id a client may register, in UTF-8 bytes.", valueName: "N"))
    var maxIdBytes = 128

    @Option(help: ArgumentHelp("Longest username a client may register, in UTF-8 bytes.", valueName: "N"))
    var maxNameBytes = 256

    @Option(help: ArgumentHelp("Users one room holds; more are refused with room_full.", valueName: "N"))
    var maxRoomSize = 64

    @Option(help: ArgumentHelp("Bytes waiting to be sent to one client before it is dropped as not reading.", valueName: "N"))
    var maxOutboxBytes = 1 << 20

    @Option(help: ArgumentHelp("Messages a second one socket may send on average (0: no limit).", valueName: "MSGS_PER_S"))
    var rateLimit: Double = 50

    @Option(help: ArgumentHelp("Messages one socket may send at once above --rate-limit; twice that closes it.", valueName: "N"))
    var rateBurst = 200

    @Option(help: ArgumentHelp("Bytes a second one socket may send on average (0: no limit); refusals count as --rate-limit's.", valueName: "BYTES_PER_S"))
    var byteRateLimit = 256 * 1024

    @Option(help: ArgumentHelp("Bytes one socket may send at once above --byte-rate-limit.", valueName: "BYTES"))
    var byteRateBurst = 2 << 20

    @Option(help: ArgumentHelp("TCP connections open at once, WebSocket and HTTP; lowered to what the open-file limit allows.", valueName: "N"))
    var maxConnections = 10_000

    @Option(help: ArgumentHelp("TCP connections open at once from one address (IPv6: a /64; 0: no limit).", valueName: "N"))
    var maxConnectionsPerAddress = 256

    @Option(help: ArgumentHelp("A reverse proxy's IP address: its connections count per client by X-Forwarded-For (repeatable).", valueName: "IP"))
    var trustedProxy: [String] = []

    @Option(help: ArgumentHelp("Seconds a connection has for its TLS handshake and HTTP request or WebSocket upgrade.", valueName: "SECONDS"))
    var handshakeTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds a WebSocket has to send a valid new_user (0: no limit).", valueName: "SECONDS"))
    var registerTimeout: Double = 30

    @Option(help: ArgumentHelp("Accept WebSocket upgrades from pages of this origin only (repeatable; default: any).", valueName: "ORIGIN"))
    var allowedOrigin: [String] = []

    @Option(help: ArgumentHelp("Share rooms with every server on this Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss://… for TLS (default: this server's rooms are its own).", valueName: "URL"),
            transform: { argument in
                do throws(RedisError) { return try RedisAddress(argument) } catch { throw ValidationError(error.description) }
            })
    var redis: RedisAddress?

    @Option(help: ArgumentHelp("PEM certificate authorities that rediss:// trusts (default: the system's).", valueName: "FILE"))
    var redisCa: String?

    @Option(help: ArgumentHelp("PEM client certificate shown to a rediss:// Redis that asks for one; with --redis-key.", valueName: "FILE"))
    var redisCert: String?

    @Option(help: ArgumentHelp("PEM private key for --redis-cert.", valueName: "FILE"))
    var redisKey: String?

    @Option(help: ArgumentHelp("Size of the picture a hub room's hub sends everyone. (default: 1280x720)", valueName: "WxH"),
            transform: { try Size(argument: $0, flag: "--hub-size") })
    var hubSize = Size(width: 1280, height: 720)

    @Option(help: "Frames per second of a hub room's picture.")
    var hubFps = 30

    @Option(help: ArgumentHelp("Bitrate of a hub room's picture in kbit/s.", valueName: "KBPS"))
    var hubBitrate = 2000

    @Option(help: ArgumentHelp("Video codecs a hub room's hub sends, best first: vp8, h264, or both. (default: vp8,h264)", valueName: "LIST"),
            transform: { try CodecList(argument: $0, flag: "--hub-video-codec") })
    var hubVideoCodec = CodecList.standard

    @Option(help: ArgumentHelp("Local address the hubs use for ICE (repeatable; default: every interface).", valueName: "IP"))
    var hubIceAddress: [String] = []

    @OptionGroup var monitoring: MetricsOptions

    @OptionGroup var configFile: ConfigOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024 (an SDP offer is several KiB)") }
        guard pingInterval >= 0 else { throw ValidationError("--ping-interval must be 0 (off) or a positive number of seconds") }
        guard maxIdBytes >= 1 else { throw ValidationError("--max-id-bytes must be at least 1") }
        guard maxNameBytes >= 0 else { throw ValidationError("--max-name-bytes must be 0 or more") }
        guard maxRoomSize >= 1 else { throw ValidationError("--max-room-size must be at least 1") }
        guard maxOutboxBytes >= maxMessageBytes else {
            throw ValidationError("--max-outbox-bytes must be at least --max-message-bytes (\(maxMessageBytes)), or one relayed message drops its reader")
        }
        guard rateLimit >= 0, rateLimit.isFinite else { throw ValidationError("--rate-limit must be 0 (off) or a positive number of messages a second") }
        guard rateBurst >= 1 else { throw ValidationError("--rate-burst must be at least 1") }
        guard byteRateLimit >= 0 else { throw ValidationError("--byte-rate-limit must be 0 (off) or a positive number of bytes a second") }
        guard byteRateBurst >= 1 else { throw ValidationError("--byte-rate-burst must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxConnectionsPerAddress >= 0 else { throw ValidationError("--max-connections-per-address must be 0 (off) or more") }
        for proxy in trustedProxy where !JoinCommand.isIPAddress(proxy) {
            throw ValidationError("--trusted-proxy must be an IP address, not '\(proxy)'")
        }
        guard handshakeTimeout > 0, handshakeTimeout.isFinite else { throw ValidationError("--handshake-timeout must be a positive number of seconds") }
        guard registerTimeout >= 0, registerTimeout.isFinite else { throw ValidationError("--register-timeout must be 0 (off) or a positive number of seconds") }
        for origin in allowedOrigin where !ServerConfiguration.isOrigin(origin) {
            throw ValidationError("--allowed-origin '\(origin)' is not an origin: give scheme and host, e.g. https://call.example or http://localhost:8000")
        }
        if token?.isEmpty == true { throw ValidationError("--token must not be empty") }
        guard (1...60).contains(hubFps) else { throw ValidationError("--hub-fps must be between 1 and 60, not \(hubFps)") }
        guard (100...50000).contains(hubBitrate) else { throw ValidationError("--hub-bitrate must be between 100 and 50000 kbit/s, not \(hubBitrate)") }
        for address in hubIceAddress where !JoinCommand.isIPAddress(address) {
            throw ValidationError("--hub-ice-address must be an IP address, not '\(address)'")
        }
        switch (tlsCert, tlsKey) {
        case (nil, nil): break
        case (let cert?, let key?):
            try Self.requireReadable([("--tls-cert", cert), ("--tls-key", key)])
        default: throw ValidationError("--tls-cert and --tls-key go together")
        }
        try validateRedisTLS()
    }

    private func validateRedisTLS() throws {
        let files = [("--redis-ca", redisCa), ("--redis-cert", redisCert), ("--redis-key", redisKey)].compactMap { flag, file in file.map { (flag, $0) } }
        guard !files.isEmpty else { return }
        guard redis?.tls == true else {
            throw ValidationError("\(files.map(\.0).joined(separator: ", ")) \(files.count == 1 ? "is" : "are") for --redis rediss://… (TLS) only")
        }
        guard (redisCert == nil) == (redisKey == nil) else { throw ValidationError("--redis-cert and --redis-key go together") }
        try Self.requireReadable(files)
    }

    /// Each flag's file must be there and readable, said before anything starts.
    private static func requireReadable(_ files: [(flag: String, file: String)]) throws {
        for (flag, file) in files where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("\(flag) '\(file)' is not a readable file")
        }
    }

    /// What each hub room's hub runs with.
    private var hubTemplate: GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.isHub = true
        (configuration.width, configuration.height) = (hubSize.width, hubSize.height)
        configuration.fps = hubFps
        configuration.bitrate = hubBitrate
        configuration.videoCodecs = hubVideoCodec.codecs
        configuration.iceAddresses = hubIceAddress
        return configuration
    }

    func run() async throws {
        logging.bootstrap()
        var configuration = ServerConfiguration()
        configuration.host = listening.host
        configuration.port = listening.port
        configuration.token = token
        configuration.maxMessageBytes = maxMessageBytes
        configuration.pingInterval = pingInterval
        configuration.maxIDBytes = maxIdBytes
        configuration.maxNameBytes = maxNameBytes
        configuration.maxRoomSize = maxRoomSize
        configuration.maxOutboxBytes = maxOutboxBytes
        configuration.rateLimit = rateLimit
        configuration.rateBurst = rateBurst
        configuration.byteRateLimit = Double(byteRateLimit)
        configuration.byteRateBurst = byteRateBurst
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.trustedProxies = trustedProxy
        configuration.handshakeTimeout = handshakeTimeout
        configuration.registerTimeout = registerTimeout
        configuration.allowedOrigins = allowedOrigin
        if let tlsCert, let tlsKey { configuration.tls = .init(certificate: tlsCert, privateKey: tlsKey) }

        let logger = Logger(label: "meshgate.server")
        let files: Int
        (configuration.maxConnections, files) = OpenFiles.connections(atMost: maxConnections)
        if configuration.maxConnections < maxConnections {
            logger.notice("fewer connections than --max-connections: this process may open only \(files) files (raise LimitNOFILE, or ulimit -n)",
                          metadata: ["max_connections": "\(configuration.maxConnections)"])
        }
        let metrics = monitoring.endpoint()
        var cluster: RedisRooms?
        if var redis {
            redis.tlsFiles = RedisTLSFiles(authority: redisCa, certificate: redisCert, key: redisKey)
            do throws(RedisError) {
                cluster = try RedisRooms.connect(redis, logger: logger)
            } catch {
                throw RuntimeFailure("--redis: \(error.description)")
            }
            cluster?.limitRooms(to: maxRoomSize)
            logger.info("rooms shared through Redis", metadata: ["redis": "\(redis)", "server": "\(cluster?.serverNumber ?? 0)"])
        }
        let server = MeshServer(configuration: configuration, logger: logger, metrics: metrics?.factory, cluster: cluster)
        let secure = tlsCert != nil
        let shown = listening.shown
        do {
            let services = try server.services { port in
                var metadata: Logger.Metadata = [
                    "url": "\(secure ? "wss" : "ws")://\(shown.local):\(port)/",
                    "open": "\(secure ? "https" : "http")://\(shown.local):\(port)/",
                    "version": "\(MeshServer.version)",
                ]
                if let others = shown.others { metadata["others_open"] = "\(secure ? "https" : "http")://\(others):\(port)/" }
                logger.info("listening", metadata: metadata)
            }
            // Last, so that on shutdown the hubs leave first, while the server still runs.
            let hubs = HubRooms(server: server, template: hubTemplate, logger: logger)
            // First, so that it stops last: a scrape during shutdown still answers.
            let monitor = metrics.map { [$0.service(logger: logger) { server.updateMetrics() }] } ?? []
            let group = ServiceGroup(configuration: .init(services: monitor + services + [hubs], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        } catch let error as ServerError {
            throw RuntimeFailure(error.description)
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw RuntimeFailure("cannot listen on \(listening.host):\(listening.port): the port is in use; pick another with --port")
        } catch {
            throw RuntimeFailure("server stopped: \(error)")
        }
    }
}
