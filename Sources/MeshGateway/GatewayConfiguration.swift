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

    public var videoCodec: VideoCodec = .vp8
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
    /// ALSA device for received audio; `nil` means do not play.
    public var playAudioDevice: String? = nil

    public var stunServer: String? = nil
    public var turnServers: [String] = []
    public var iceAddresses: [String] = []
    public var icePorts: ClosedRange<Int>? = nil

    /// Remote participants this gateway connects to at most; others are refused (no webrtcbin).
    public var maxPeers = 32
    /// ICE candidates a peer may send before its description; later ones are refused.
    public var maxEarlyCandidates = 64

    /// Leave after this many seconds.
    public var duration: Double? = nil
    /// Print per-peer statistics every this many seconds.
    public var statsInterval: Double? = nil

    public init() {}

    /// The video encoder that runs: the one picked at start, or software for the codec.
    var videoEncoder: VideoEncoder { selectedEncoder ?? (videoCodec == .vp8 ? .vp8 : .x264) }

    /// The video encoder as a gst-launch description, named `name`.
    func videoEncoderDescription(name: String) -> String {
        videoEncoder.description(name: name, bitrate: bitrate, width: width, height: height, fps: fps)
    }
}

public enum VideoCodec: String, Sendable, CaseIterable {
    case vp8, h264
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
    case none

    /// Parses `test`, `v4l2[:DEVICE]`, `file:PATH`, `none`. `auto` is resolved by the caller,
    /// which can look for devices.
    public init?(argument: String) {
        switch argument {
        case "test": self = .test
        case "none": self = .none
        case "v4l2": self = .camera(device: nil)
        default:
            if let device = argument.dropPrefix("v4l2:"), !device.isEmpty { self = .camera(device: device) }
            else if let path = argument.dropPrefix("file:"), !path.isEmpty { self = .file(path) }
            else { return nil }
        }
    }
}

/// Where the sent audio comes from.
public enum AudioSource: Sendable, Equatable {
    case test
    case microphone(device: String?)
    case file(String)
    case none

    /// Parses `test`, `alsa[:DEVICE]`, `file:PATH`, `none`.
    public init?(argument: String) {
        switch argument {
        case "test": self = .test
        case "none": self = .none
        case "alsa": self = .microphone(device: nil)
        default:
            if let device = argument.dropPrefix("alsa:"), !device.isEmpty { self = .microphone(device: device) }
            else if let path = argument.dropPrefix("file:"), !path.isEmpty { self = .file(path) }
            else { return nil }
        }
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
