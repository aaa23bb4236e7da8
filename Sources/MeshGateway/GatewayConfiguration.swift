import CoreMetrics
import Foundation

/// Everything `meshgate join` was asked to do.
public struct GatewayConfiguration: Sendable {
    /// ws:// or wss:// URL of the signalling server, room path and `?token=` included.
    public var serverURL: String = ""
    public var id: String = "meshgate-" + String(UInt32.random(in: .min ... .max), radix: 16)
    public var name: String? = nil

    public var video: VideoSource = .test
    public var audio: AudioSource = .test
    /// A preset's gst-launch description, used instead of `video` and `audio`.
    public var preset: Preset? = nil
    /// Plays `file:` sources (and a preset's decodebins named `file…`) again and again
    /// instead of leaving when they end.
    public var loop = false
    /// How long (ms) a network source waits for late packets (`--source-latency`).
    public var sourceLatency = 200
    /// Re-encodes a source's video even when peers could take it as it comes (`--transcode`).
    public var transcode = false

    /// Video codecs to send, best first (`--video-codec`): each peer gets the first it takes,
    /// from one shared encoder per codec in use.
    public var videoCodecs: [VideoCodec] = [.vp8, .h264]
    /// The first of `videoCodecs`; setting it sends that codec alone.
    public var videoCodec: VideoCodec {
        get { videoCodecs.first ?? .vp8 }
        set { videoCodecs = [newValue] }
    }
    /// Which kind of encoder runs (`--encoder`); the gateway picks one as it starts.
    public var encoder: EncoderChoice = .auto
    /// The encoder picked from `encoder` when the gateway started.
    var selectedEncoder: VideoEncoder?
    public var width = 640
    public var height = 480
    public var fps = 30
    /// Video bitrate in kbit/s.
    public var bitrate = 1500
    /// One encoder per kind for everyone, or one per peer.
    public var encode: EncodeMode = .once

    public var recordDirectory: String? = nil
    /// A hub room's hub (the server runs it): it sends everyone one picture of everyone
    /// (its video source, at `width`x`height`, in `videoCodecs`) and each peer a mix of
    /// everyone's audio but that peer's own. `video`, `audio` and `preset` are not used.
    public var isHub = false
    /// Connects to a server in the same process instead of `serverURL` (a hub's server).
    public var signallingLink: (@Sendable () -> SignallingLink)? = nil
    /// Where everything received goes as one picture and one mix (`--compose`).
    public var compose: String? = nil
    public var composeWidth = 1280
    public var composeHeight = 720
    public var composeFPS = 30
    /// The composed video's bitrate in kbit/s.
    public var composeBitrate = 2500
    /// ALSA device for received audio; `nil` means do not play.
    public var playAudioDevice: String? = nil

    public var stunServer: String? = nil
    public var turnServers: [String] = []
    public var iceAddresses: [String] = []
    /// Network interfaces ICE may use (`--ice-interface`), by name; their addresses are read
    /// as each connection starts.
    public var iceInterfaces: [String] = []
    public var icePorts: ClosedRange<Int>? = nil
    /// Addresses a 1:1 NAT or a container's published ports forward to this box
    /// (`--public-address`): each local UDP host candidate is announced with them too.
    public var publicAddresses: [String] = []
    /// ICE over TCP as well as UDP (`--ice-tcp`): for networks that drop UDP.
    public var iceTCP = true
    /// Which candidates ICE may use (`--ice-transport`): all, or only relayed ones.
    public var iceTransport: ICETransport = .all

    /// Remote participants this gateway connects to at most; others are refused (no webrtcbin).
    public var maxPeers = 32
    /// ICE candidates a peer may send before its description; later ones are refused.
    public var maxEarlyCandidates = 64

    /// Leave after this many seconds.
    public var duration: Double? = nil
    /// Print per-peer statistics every this many seconds.
    public var statsInterval: Double? = nil
    /// Where per-peer, encoder and source metrics go (`--metrics`); nil: none are kept.
    public var metrics: (any MetricsFactory)? = nil
    /// Whether `meshgate ctl` talks to it (`--control`): then each peer's traffic is measured.
    public var control = false
    /// `--chat`: stdin's lines go to every peer's chat channel, and what peers say is
    /// printed on stdout as JSON lines.
    public var chat = false

    public init() {}

    /// The encoder of `codec`: for H.264 the one picked at start, else software.
    func videoEncoder(_ codec: VideoCodec) -> VideoEncoder {
        codec == .vp8 ? .vp8 : selectedEncoder ?? .x264
    }

    /// The encoder of `codec` as a gst-launch description, named `name`.
    func videoEncoderDescription(_ codec: VideoCodec, name: String) -> String {
        videoEncoder(codec).description(name: name, bitrate: bitrate, width: width, height: height, fps: fps)
    }
}

public enum VideoCodec: String, Sendable, CaseIterable {
    case vp8, h264
}

/// `--ice-transport`: the candidates ICE may pair.
public enum ICETransport: String, Sendable, CaseIterable {
    case all
    /// Only TURN relay candidates: the peers never learn each other's addresses, and media
    /// always goes through the TURN server.
    case relay
}

public enum EncodeMode: String, Sendable, CaseIterable {
    /// One video and one audio encoder feed every peer: a peer costs sending, not encoding.
    case once
    /// Each peer gets its own encoders: CPU grows with every peer, as in a browser, but each
    /// peer's video bitrate can follow that peer's own connection.
    case perPeer = "per-peer"
}

/// Where the sent video comes from.
public enum VideoSource: Sendable, Equatable {
    case test
    case camera(device: String?)
    case file(String)
    /// A network stream: `rtsp://`, `rtsps://`, `http(s)://`, `srt://`.
    case network(String)
    case none

    /// Parses `test`, `v4l2[:DEVICE]`, `file:PATH`, a network URI, `none`. `auto` is resolved
    /// by the caller, which can look for devices.
    public init?(argument: String) {
        switch argument {
        case "test": self = .test
        case "none": self = .none
        case "v4l2": self = .camera(device: nil)
        default:
            if let device = argument.dropPrefix("v4l2:"), !device.isEmpty { self = .camera(device: device) }
            else if let path = argument.dropPrefix("file:"), !path.isEmpty { self = .file(path) }
            else if URISource.isNetwork(argument) { self = .network(argument) }
            else { return nil }
        }
    }

    /// The file or stream a uridecodebin opens for it.
    var opened: URISource? {
        switch self {
        case .file(let path): URISource(file: path)
        case .network(let uri): URISource(uri: uri, kind: .network)
        default: nil
        }
    }
}

/// Where the sent audio comes from.
public enum AudioSource: Sendable, Equatable {
    /// A sine tone; `test:HZ` picks its pitch, so that a listener can tell senders apart.
    case tone(hertz: Int)
    case microphone(device: String?)
    case file(String)
    /// A network stream: `rtsp://`, `rtsps://`, `http(s)://`, `srt://`.
    case network(String)
    case none

    public static let test = AudioSource.tone(hertz: 440)
    /// The pitches `test:HZ` takes.
    public static let tones = 20...20_000

    /// Parses `test[:HZ]`, `alsa[:DEVICE]`, `file:PATH`, a network URI, `none`.
    public init?(argument: String) {
        switch argument {
        case "test": self = .test
        case "none": self = .none
        case "alsa": self = .microphone(device: nil)
        default:
            if let hertz = argument.dropPrefix("test:") {
                guard let hertz = Int(hertz), Self.tones.contains(hertz) else { return nil }
                self = .tone(hertz: hertz)
            } else if let device = argument.dropPrefix("alsa:"), !device.isEmpty { self = .microphone(device: device) }
            else if let path = argument.dropPrefix("file:"), !path.isEmpty { self = .file(path) }
            else if URISource.isNetwork(argument) { self = .network(argument) }
            else { return nil }
        }
    }

    /// The file or stream a uridecodebin opens for it.
    var opened: URISource? {
        switch self {
        case .file(let path): URISource(file: path)
        case .network(let uri): URISource(uri: uri, kind: .network)
        default: nil
        }
    }
}

extension AudioSource: CustomStringConvertible {
    /// As `--audio` takes it (a URI's password masked), for the log.
    public var description: String {
        switch self {
        case .tone(let hertz): hertz == 440 ? "test" : "test:\(hertz)"
        case .microphone(let device): device.map { "alsa:\($0)" } ?? "alsa"
        case .file(let path): "file:\(path)"
        case .network(let uri): Redacted.url(uri)
        case .none: "none"
        }
    }
}

/// A file, network stream or camera stream that an element of its own opens (a
/// uridecodebin; for a camera, its v4l2src); the same one for video and audio is opened once.
struct URISource: Sendable, Equatable {
    let uri: String
    let kind: Kind

    enum Kind: Sendable, Equatable {
        case file
        case network
        /// A camera's own encoded stream, asked of it in `caps`: it passes through.
        case camera(device: String?, caps: String)

        /// What the source's element is called in the pipeline (`_video` or `_audio` added
        /// when it feeds one kind).
        var name: String {
            switch self {
            case .file: "file"
            case .network: "network"
            case .camera: "camera"
            }
        }
    }

    init(uri: String, kind: Kind) {
        self.uri = uri
        self.kind = kind
    }

    init(file path: String) {
        self.init(uri: URL(fileURLWithPath: path).absoluteString, kind: .file)
    }

    /// A live source is reopened when it drops and paced by itself; a file that ends, ends
    /// the call, and plays by the clock.
    var isLive: Bool { kind != .file }

    static let networkSchemes = ["rtsp", "rtsps", "http", "https", "srt"]

    /// Whether `argument` is a URI of a network source MeshGate opens, with a host.
    static func isNetwork(_ argument: String) -> Bool {
        guard let colon = argument.range(of: "://") else { return false }
        let scheme = argument[..<colon.lowerBound].lowercased()
        return networkSchemes.contains(scheme) && argument[colon.upperBound...].contains { $0 != "/" }
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
