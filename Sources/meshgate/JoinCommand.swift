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

extension EncodeMode: ExpressibleByArgument {}
extension ICETransport: ExpressibleByArgument {}
extension EncoderChoice: ExpressibleByArgument {}

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

    @Option(help: ArgumentHelp("Video to send: auto, test, v4l2[:DEVICE], file:PATH, rtsp://, rtsps://, http(s)://, srt:// URI, none. (default: auto)", valueName: "SOURCE"),
            transform: SourceChoice.init(argument:))
    var video = SourceChoice<VideoSource>.auto

    @Option(help: ArgumentHelp("Audio to send: auto, test[:HZ], alsa[:DEVICE], file:PATH, rtsp://, rtsps://, http(s)://, srt:// URI, none; the same URI as --video opens it once. (default: auto)", valueName: "SOURCE"),
            transform: SourceChoice.init(argument:))
    var audio = SourceChoice<AudioSource>.auto

    @Flag(help: "Play file: sources (and a preset's decodebins named file…) in a loop instead of leaving when they end.")
    var loop = false

    @Option(help: ArgumentHelp("How long a network source (rtsp://, srt://) waits for late packets, in ms.", valueName: "MS"))
    var sourceLatency = 200

    @Flag(help: "Decode and encode a file or network source's video even for peers that could take it as it comes (passthrough).")
    var transcode = false

    @Option(help: ArgumentHelp("Send from a preset (a name `meshgate pipelines` lists, or a file) instead of --video/--audio.", valueName: "FILE"))
    var pipeline: String?

    @Option(help: ArgumentHelp("Video codecs to send, best first: each peer gets the first it takes. vp8, h264 (constrained baseline), or both: h264,vp8. (default: \(CodecList.standard))",
                               valueName: "LIST"), transform: { try CodecList(argument: $0) })
    var videoCodec = CodecList.standard

    @Option(help: ArgumentHelp("H.264 encoder: auto (the first hardware one that starts, else software), software, v4l2, va, vaapi, nvenc.", valueName: "KIND"))
    var encoder: EncoderChoice = .auto

    @Option(help: ArgumentHelp("Video size sent. (default: \(Size.standard))", valueName: "WxH"), transform: { try Size(argument: $0) })
    var size = Size.standard

    @Option(help: "Video frames per second sent.")
    var fps = 30

    @Option(help: ArgumentHelp("Video bitrate in kbit/s.", valueName: "KBPS"))
    var bitrate = 1500

    @Option(help: ArgumentHelp("once: one encoder per kind for every peer; per-peer: one per peer, each peer's video bitrate following its own connection.", valueName: "MODE"))
    var encode: EncodeMode = .once

    @Option(help: ArgumentHelp("Record each remote participant to DIR/ID-TIME.mkv.", valueName: "DIR"))
    var record: String?

    @Option(help: ArgumentHelp("Compose everything received into one picture (a labelled grid) and one mix, encoded once: a .mkv or .mp4 file (finalised when the gateway stops) or an rtmp:// URL.", valueName: "DEST"))
    var compose: String?

    @Option(help: ArgumentHelp("Size of the composed picture. (default: 1280x720)", valueName: "WxH"), transform: { try Size(argument: $0, flag: "--compose-size") })
    var composeSize = Size(width: 1280, height: 720)

    @Option(help: "Frames per second of the composed picture.")
    var composeFps = 30

    @Option(help: ArgumentHelp("Bitrate of the composed video in kbit/s.", valueName: "KBPS"))
    var composeBitrate = 2500

    @Option(defaultAsFlag: "default", parsing: .next,
            help: ArgumentHelp("Play received audio on ALSA (`--play-audio` alone: the default device).", valueName: "DEVICE"))
    var playAudio: String?

    @Option(help: ArgumentHelp("STUN server, stun://HOST:PORT.", valueName: "URL"))
    var stun: String?

    @Option(help: ArgumentHelp("TURN server, turn://USER:PASSWORD@HOST:PORT (repeatable).", valueName: "URL"))
    var turn: [String] = []

    @Option(help: ArgumentHelp("Local address ICE may use (repeatable); only these are used. 127.0.0.1 for calls on one machine.", valueName: "IP"))
    var iceAddress: [String] = []

    @Option(help: ArgumentHelp("Network interface ICE may use (repeatable), as `ip link` names it (eth0, wg0); only these, and --ice-address, are used.", valueName: "NAME"))
    var iceInterface: [String] = []

    @Option(help: ArgumentHelp("UDP port range for ICE.", valueName: "MIN-MAX"), transform: PortRange.init(argument:))
    var icePorts: PortRange?

    @Option(help: ArgumentHelp("An address that a 1:1 NAT or a container's published ports forward to this box (repeatable): each local UDP candidate is also offered with it, same port.", valueName: "IP"))
    var publicAddress: [String] = []

    @Flag(inversion: .prefixedNo, help: "Offer and pair TCP candidates as well as UDP ones: what gets through a firewall that drops UDP.")
    var iceTCP = true

    @Option(help: ArgumentHelp("Candidates ICE may use: all, or relay (only through --turn: media always goes through the TURN server).", valueName: "POLICY"))
    var iceTransport: ICETransport = .all

    @Option(help: "Remote participants to connect to at most; more are refused (no media, an error in the log).")
    var maxPeers = 32

    @Option(help: ArgumentHelp("ICE candidates a peer may send before its offer or answer; later ones are ignored.", valueName: "N"))
    var maxEarlyCandidates = 64

    @Option(help: ArgumentHelp("Leave after this many seconds.", valueName: "SECONDS"))
    var duration: Double?

    @Option(help: ArgumentHelp("Print one JSON line per peer every SECONDS on stdout.", valueName: "SECONDS"))
    var stats: Double?

    @Flag(help: "Chat: send each line of stdin to every peer, and print what peers send as JSON lines on stdout.")
    var chat = false

    @Option(help: ArgumentHelp("Answer `meshgate ctl --control PATH` on this Unix socket (HTTP+JSON): peers, mute, unmute, leave.", valueName: "PATH"))
    var control: String?

    @OptionGroup(title: "Embedded server (without --server)")
    var listening: ListeningOptions

    @OptionGroup var monitoring: MetricsOptions

    @OptionGroup var configFile: ConfigOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let server {
            guard let url = URL(string: server), ["ws", "wss"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--server must be a ws:// or wss:// URL, not '\(server)'")
            }
        }
        // The limits a server keeps by default: past them it would refuse our new_user.
        if let id, id.isEmpty || id.utf8.count > 128 || id.hasControlCharacters {
            throw ValidationError("--id must be 1 to 128 bytes without control characters")
        }
        if let name, name.utf8.count > 256 || name.hasControlCharacters {
            throw ValidationError("--name must be at most 256 bytes without control characters")
        }
        if encoder != .auto, encoder != .software, !videoCodec.codecs.contains(.h264) {
            throw ValidationError("--encoder \(encoder.rawValue) encodes H.264 only: add h264 to --video-codec")
        }
        guard (0...10000).contains(sourceLatency) else { throw ValidationError("--source-latency must be between 0 and 10000 ms, not \(sourceLatency)") }
        guard (1...120).contains(fps) else { throw ValidationError("--fps must be between 1 and 120, not \(fps)") }
        guard (16...50000).contains(bitrate) else { throw ValidationError("--bitrate must be between 16 and 50000 kbit/s, not \(bitrate)") }
        if let stun, !stun.hasPrefix("stun://") { throw ValidationError("--stun must look like stun://HOST:PORT, not '\(stun)'") }
        for url in turn where !(url.hasPrefix("turn://") || url.hasPrefix("turns://")) {
            throw ValidationError("--turn must look like turn://USER:PASSWORD@HOST:PORT, not '\(Redacted.url(url))'")
        }
        if iceTransport == .relay, turn.isEmpty {
            throw ValidationError("--ice-transport relay needs a TURN server: add --turn turn://USER:PASSWORD@HOST:PORT")
        }
        for address in publicAddress where !Self.isIPAddress(address) || address.contains(":") {
            throw ValidationError("--public-address must be an IPv4 address, not '\(address)'")
        }
        for address in iceAddress where !Self.isIPAddress(address) {
            throw ValidationError("--ice-address must be an IP address of this machine, not '\(address)'")
        }
        guard (1...1000).contains(maxPeers) else { throw ValidationError("--max-peers must be between 1 and 1000, not \(maxPeers)") }
        guard (1...10000).contains(maxEarlyCandidates) else {
            throw ValidationError("--max-early-candidates must be between 1 and 10000, not \(maxEarlyCandidates)")
        }
        if let compose {
            guard let target = ComposeTarget(compose) else {
                throw ValidationError("--compose takes \(ComposeTarget.forms), not '\(Redacted.url(compose))'")
            }
            if case .file(let path, _) = target, FileManager.default.fileExists(atPath: path) {
                throw ValidationError("--compose \(path) exists, and is never overwritten: remove it or choose another name")
            }
        }
        guard (1...120).contains(composeFps) else { throw ValidationError("--compose-fps must be between 1 and 120, not \(composeFps)") }
        guard (100...50000).contains(composeBitrate) else {
            throw ValidationError("--compose-bitrate must be between 100 and 50000 kbit/s, not \(composeBitrate)")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        if let stats, !(stats > 0) { throw ValidationError("--stats must be a positive number of seconds") }
    }

    /// The gateway configuration from the flags, which `validate()` has checked. Called once,
    /// by `run()`: it reads the preset and looks for devices for `auto`. A preset that cannot
    /// be used is a usage error.
    func makeConfiguration() throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        if let server { configuration.serverURL = server }
        if let id { configuration.id = id }
        configuration.name = name
        if let pipeline {
            do {
                configuration.preset = try Preset.load(pipeline)
            } catch {
                throw ValidationError("--pipeline: \(error.description)")
            }
        }
        configuration.loop = loop
        configuration.sourceLatency = sourceLatency
        configuration.transcode = transcode
        configuration.video = video.resolved()
        configuration.audio = audio.resolved()
        configuration.videoCodecs = videoCodec.codecs
        configuration.encoder = encoder
        (configuration.width, configuration.height) = (size.width, size.height)
        configuration.fps = fps
        configuration.bitrate = bitrate
        configuration.encode = encode
        configuration.recordDirectory = record
        configuration.compose = compose
        (configuration.composeWidth, configuration.composeHeight) = (composeSize.width, composeSize.height)
        configuration.composeFPS = composeFps
        configuration.composeBitrate = composeBitrate
        // The gateway names ALSA's default device with an empty string.
        configuration.playAudioDevice = playAudio.map { $0 == "default" ? "" : $0 }
        configuration.stunServer = stun
        configuration.turnServers = turn
        configuration.iceAddresses = iceAddress
        configuration.iceTransport = iceTransport
        configuration.publicAddresses = publicAddress
        configuration.iceTCP = iceTCP
        configuration.iceInterfaces = iceInterface
        configuration.icePorts = icePorts?.ports
        configuration.maxPeers = maxPeers
        configuration.maxEarlyCandidates = maxEarlyCandidates
        configuration.duration = duration
        configuration.statsInterval = stats
        configuration.control = control != nil
        configuration.chat = chat
        return configuration
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    func run() async throws {
        var configuration = try makeConfiguration()
        logging.bootstrap()
        let logger = Logger(label: "meshgate.join")
        if pipeline == nil {
            if case .auto = video { logger.info("video source", metadata: ["auto": "\(configuration.video)"]) }
            if case .auto = audio { logger.info("audio source", metadata: ["auto": "\(configuration.audio)"]) }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let metrics = monitoring.endpoint()
        configuration.metrics = metrics?.factory
        let serverURL: @Sendable () async -> String?
        var embeddedServer: MeshServer?
        if server == nil {
            var serverConfiguration = ServerConfiguration()
            serverConfiguration.host = listening.host
            serverConfiguration.port = listening.port
            // As `serve` does, without a flag to say so: the gateway's own media takes files too.
            serverConfiguration.maxConnections = OpenFiles.connections(atMost: serverConfiguration.maxConnections).allowed
            let listeningPort = AsyncStream<Int>.makeStream()
            let embedded = MeshServer(configuration: serverConfiguration, logger: Logger(label: "meshgate.server"), metrics: metrics?.factory)
            embeddedServer = embedded
            let shown = listening.shown
            for service in try embedded.services(onListening: { port in
                var metadata: Logger.Metadata = ["url": "ws://\(shown.local):\(port)/", "open": "http://\(shown.local):\(port)/"]
                if let others = shown.others { metadata["others_open"] = "http://\(others):\(port)/" }
                logger.info("server listening", metadata: metadata)
                listeningPort.continuation.yield(port)
            }) {
                services.append(.init(service: service))
            }
            let connectHost = listening.connectableHost
            serverURL = {
                for await port in listeningPort.stream { return "ws://\(connectHost):\(port)/" }
                return nil
            }
        } else {
            serverURL = { [configuration] in configuration.serverURL }
        }
        configuration.serverURL = ""
        if let metrics {
            services.insert(.init(service: metrics.service(logger: logger) { [embeddedServer] in embeddedServer?.updateMetrics() }), at: 0)
        }
        let gateway = GatewayService(configuration: configuration, serverURL: serverURL, logger: logger)
        if let control {
            try ControlEndpoint.check(control)
            services.insert(.init(service: ControlEndpoint(path: control, gateway: { gateway.running }, logger: logger)), at: 0)
        }
        services.append(.init(service: gateway, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "meshgate.services")))
        do {
            try await group.run()
        } catch let error as GatewayError {
            throw RuntimeFailure(error.description)
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw RuntimeFailure("cannot listen on \(listening.host):\(listening.port): the port is in use; pick another with --port, or join a running server with --server")
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
    private let current = Mutex<Gateway?>(nil)

    init(configuration: GatewayConfiguration, serverURL: @escaping @Sendable () async -> String?, logger: Logger) {
        self.configuration = configuration
        self.serverURL = serverURL
        self.logger = logger
    }

    /// The gateway while it runs, for `--control`.
    var running: Gateway? { current.withLock { $0 } }

    /// Why the gateway ended, when it failed.
    var failure: GatewayError? { failed.withLock { $0 } }

    func run() async throws {
        guard let url = await serverURL() else { return }
        var configuration = configuration
        configuration.serverURL = url
        let gateway = Gateway(configuration: configuration, logger: logger)
        current.withLock { $0 = gateway }
        defer { current.withLock { $0 = nil } }
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
