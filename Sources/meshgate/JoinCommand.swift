import ArgumentParser
import Foundation
import GStreamer
import Logging
import MeshGateway
import MeshProtocol
import MeshServer
import NIOCore
import ServiceLifecycle
import Synchronization

extension VideoCodec: ExpressibleByArgument {}
extension EncodeMode: ExpressibleByArgument {}

struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join a mesh call as one participant: send a camera, microphone, file or test pattern; receive, record or play the others."
    )

    @Option(help: ArgumentHelp("Signalling server, ws://HOST:PORT[/room/NAME][?token=T] or wss://…; without it, one is started in this process.", valueName: "URL"))
    var server: String?

    @Option(help: "Your id in the call (unique in the room); default: a random one.")
    var id: String?

    @Option(help: "Display name the others see; default: the id.")
    var name: String?

    @Option(help: ArgumentHelp("Video to send: auto, test, v4l2[:DEVICE], file:PATH, none.", valueName: "SOURCE"))
    var video = "auto"

    @Option(help: ArgumentHelp("Audio to send: auto, test, alsa[:DEVICE], file:PATH, none.", valueName: "SOURCE"))
    var audio = "auto"

    @Flag(help: "Play file: sources (and a preset's decodebins named file…) in a loop instead of leaving when they end.")
    var loop = false

    @Option(help: ArgumentHelp("Send from a preset (a name `meshgate pipelines` lists, or a file) instead of --video/--audio.", valueName: "FILE"))
    var pipeline: String?

    @Option(help: "Video codec to send: vp8 or h264 (constrained baseline).")
    var videoCodec: VideoCodec = .vp8

    @Option(help: ArgumentHelp("Video size sent.", valueName: "WxH"))
    var size = "640x480"

    @Option(help: "Video frames per second sent.")
    var fps = 30

    @Option(help: ArgumentHelp("Video bitrate in kbit/s.", valueName: "KBPS"))
    var bitrate = 1500

    @Option(help: ArgumentHelp("once: one encoder per kind for every peer; per-peer: one per peer, each peer's video bitrate following its own connection.", valueName: "MODE"))
    var encode: EncodeMode = .once

    @Option(help: ArgumentHelp("Record each remote participant to DIR/ID-TIME.mkv.", valueName: "DIR"))
    var record: String?

    @Option(help: ArgumentHelp("Play received audio on ALSA (`--play-audio` alone: the default device).", valueName: "DEVICE"))
    var playAudio: String?

    @Option(help: ArgumentHelp("STUN server, stun://HOST:PORT.", valueName: "URL"))
    var stun: String?

    @Option(help: ArgumentHelp("TURN server, turn://USER:PASSWORD@HOST:PORT (repeatable).", valueName: "URL"))
    var turn: [String] = []

    @Option(help: ArgumentHelp("Local address ICE may use (repeatable); only these are used. 127.0.0.1 for calls on one machine.", valueName: "IP"))
    var iceAddress: [String] = []

    @Option(help: ArgumentHelp("UDP port range for ICE.", valueName: "MIN-MAX"))
    var icePorts: String?

    @Option(help: "Remote participants to connect to at most; more are refused (no media, an error in the log).")
    var maxPeers = 32

    @Option(help: ArgumentHelp("ICE candidates a peer may send before its offer or answer; later ones are ignored.", valueName: "N"))
    var maxEarlyCandidates = 64

    @Option(help: ArgumentHelp("Leave after this many seconds.", valueName: "SECONDS"))
    var duration: Double?

    @Option(help: ArgumentHelp("Print one JSON line per peer every SECONDS on stdout.", valueName: "SECONDS"))
    var stats: Double?

    @Option(help: "Embedded server (no --server): address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Embedded server (no --server): port to listen on (0: any free port).")
    var port = 8000

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try makeConfiguration(resolveAuto: false)
    }

    /// The gateway configuration from the flags; every bad value is a usage error.
    func makeConfiguration(resolveAuto: Bool) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        if let server {
            guard let url = URL(string: server), ["ws", "wss"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--server must be a ws:// or wss:// URL, not '\(server)'")
            }
            configuration.serverURL = server
        }
        // The limits a server keeps by default: past them it would refuse our new_user.
        if let id {
            guard !id.isEmpty, id.utf8.count <= 128, !id.hasControlCharacters else {
                throw ValidationError("--id must be 1 to 128 bytes without control characters")
            }
            configuration.id = id
        }
        if let name {
            guard name.utf8.count <= 256, !name.hasControlCharacters else {
                throw ValidationError("--name must be at most 256 bytes without control characters")
            }
        }
        configuration.name = name
        if let pipeline {
            do {
                configuration.preset = try Preset.load(pipeline)
            } catch {
                throw ValidationError("--pipeline: \(error.description)")
            }
        }
        configuration.loop = loop
        configuration.video = try videoSource(resolveAuto: resolveAuto)
        configuration.audio = try audioSource(resolveAuto: resolveAuto)
        configuration.videoCodec = videoCodec
        let dimensions = size.split(separator: "x").compactMap { Int($0) }
        guard dimensions.count == 2, (16...7680).contains(dimensions[0]), (16...4320).contains(dimensions[1]),
              dimensions.allSatisfy({ $0 % 2 == 0 }) else {
            throw ValidationError("--size must be WIDTHxHEIGHT with even numbers, e.g. 1280x720, not '\(size)'")
        }
        (configuration.width, configuration.height) = (dimensions[0], dimensions[1])
        guard (1...120).contains(fps) else { throw ValidationError("--fps must be between 1 and 120, not \(fps)") }
        configuration.fps = fps
        guard (16...50000).contains(bitrate) else { throw ValidationError("--bitrate must be between 16 and 50000 kbit/s, not \(bitrate)") }
        configuration.bitrate = bitrate
        configuration.encode = encode
        configuration.recordDirectory = record
        configuration.playAudioDevice = playAudio.map { $0 == "default" ? "" : $0 }
        if let stun {
            guard stun.hasPrefix("stun://") else { throw ValidationError("--stun must look like stun://HOST:PORT, not '\(stun)'") }
            configuration.stunServer = stun
        }
        for url in turn where !(url.hasPrefix("turn://") || url.hasPrefix("turns://")) {
            throw ValidationError("--turn must look like turn://USER:PASSWORD@HOST:PORT, not '\(Redacted.url(url))'")
        }
        configuration.turnServers = turn
        for address in iceAddress where !Self.isIPAddress(address) {
            throw ValidationError("--ice-address must be an IP address of this machine, not '\(address)'")
        }
        configuration.iceAddresses = iceAddress
        if let icePorts {
            let bounds = icePorts.split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2, 1024 <= bounds[0], bounds[0] <= bounds[1], bounds[1] <= 65535 else {
                throw ValidationError("--ice-ports must be MIN-MAX between 1024 and 65535, e.g. 40000-40100, not '\(icePorts)'")
            }
            configuration.icePorts = bounds[0]...bounds[1]
        }
        guard (1...1000).contains(maxPeers) else { throw ValidationError("--max-peers must be between 1 and 1000, not \(maxPeers)") }
        configuration.maxPeers = maxPeers
        guard (1...10000).contains(maxEarlyCandidates) else {
            throw ValidationError("--max-early-candidates must be between 1 and 10000, not \(maxEarlyCandidates)")
        }
        configuration.maxEarlyCandidates = maxEarlyCandidates
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        configuration.duration = duration
        if let stats, !(stats > 0) { throw ValidationError("--stats must be a positive number of seconds") }
        configuration.statsInterval = stats
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
        return configuration
    }

    private func videoSource(resolveAuto: Bool) throws -> VideoSource {
        if video == "auto" {
            guard resolveAuto else { return .test }
            return Device.list("Video/Source").lazy.compactMap(\.sourceArgument).compactMap(VideoSource.init(argument:)).first ?? .test
        }
        guard let source = VideoSource(argument: video) else {
            throw ValidationError("--video must be auto, test, v4l2[:DEVICE], file:PATH or none, not '\(video)'")
        }
        return source
    }

    private func audioSource(resolveAuto: Bool) throws -> AudioSource {
        if audio == "auto" {
            guard resolveAuto else { return .test }
            return Device.list("Audio/Source").lazy.compactMap(\.sourceArgument).compactMap(AudioSource.init(argument:)).first ?? .test
        }
        guard let source = AudioSource(argument: audio) else {
            throw ValidationError("--audio must be auto, test, alsa[:DEVICE], file:PATH or none, not '\(audio)'")
        }
        return source
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "meshgate.join")
        var configuration = try makeConfiguration(resolveAuto: true)
        if pipeline == nil {
            if video == "auto" { logger.info("video source", metadata: ["auto": "\(configuration.video)"]) }
            if audio == "auto" { logger.info("audio source", metadata: ["auto": "\(configuration.audio)"]) }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let serverURL: @Sendable () async -> String?
        if server == nil {
            var serverConfiguration = ServerConfiguration()
            serverConfiguration.host = host
            serverConfiguration.port = port
            let listening = AsyncStream<Int>.makeStream()
            let embedded = MeshServer(configuration: serverConfiguration, logger: Logger(label: "meshgate.server"))
            let shown = ListeningAddress.shown(for: host)
            for service in try embedded.services(onListening: { port in
                var metadata: Logger.Metadata = ["url": "ws://\(shown.local):\(port)/", "open": "http://\(shown.local):\(port)/"]
                if let others = shown.others { metadata["others_open"] = "http://\(others):\(port)/" }
                logger.info("server listening", metadata: metadata)
                listening.continuation.yield(port)
            }) {
                services.append(.init(service: service))
            }
            let connectHost = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "[::1]" : host
            serverURL = {
                for await port in listening.stream { return "ws://\(connectHost):\(port)/" }
                return nil
            }
        } else {
            serverURL = { [configuration] in configuration.serverURL }
        }
        configuration.serverURL = ""
        let gateway = GatewayService(configuration: configuration, serverURL: serverURL, logger: logger)
        services.append(.init(service: gateway, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "meshgate.services")))
        do {
            try await group.run()
        } catch let error as GatewayError {
            throw RuntimeFailure(error.description)
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw RuntimeFailure("cannot listen on \(host):\(port): the port is in use; pick another with --port, or join a running server with --server")
        } catch let error as ServiceGroupError {
            throw RuntimeFailure("\(error)")
        }
        if let failure = gateway.failure { throw RuntimeFailure(failure.description) }
    }
}

/// The gateway as a service, so that it shares signal handling and shutdown with an embedded server.
final class GatewayService: Service, Sendable {
    private let configuration: GatewayConfiguration
    private let serverURL: @Sendable () async -> String?
    private let logger: Logger
    private let failed = Mutex<GatewayError?>(nil)

    init(configuration: GatewayConfiguration, serverURL: @escaping @Sendable () async -> String?, logger: Logger) {
        self.configuration = configuration
        self.serverURL = serverURL
        self.logger = logger
    }

    /// Why the gateway ended, when it failed.
    var failure: GatewayError? { failed.withLock { $0 } }

    func run() async throws {
        guard let url = await serverURL() else { return }
        var configuration = configuration
        configuration.serverURL = url
        let gateway = Gateway(configuration: configuration, logger: logger)
        do {
            try await withGracefulShutdownHandler {
                try await gateway.run()
            } onGracefulShutdown: {
                gateway.stop(reason: "asked to stop")
            }
        } catch let error as GatewayError {
            // Ending the group normally, with the reason kept, lets the embedded server close cleanly too.
            failed.withLock { $0 = error }
        }
    }
}
