import ArgumentParser
import GStreamer
import MeshGateway

/// What `--video` or `--audio` names: a source, or `auto`.
///
/// `auto` is resolved when the gateway starts, not while parsing: a usage error should not
/// wait for a scan of the devices.
enum SourceChoice<Source: DeviceBackedSource>: Sendable {
    case auto
    case source(Source)

    init(argument: String) throws(ValidationError) {
        if argument == "auto" {
            self = .auto
        } else if let source = Source(argument: argument) {
            self = .source(source)
        } else {
            throw ValidationError("\(Source.flag) must be \(Source.forms), not '\(argument)'")
        }
    }

    /// The source to send: the one named, or for `auto` the first device GStreamer finds,
    /// else the test source.
    func resolved() -> Source {
        switch self {
        case .source(let source):
            return source
        case .auto:
            return Device.list(Source.deviceClass).lazy.compactMap(\.sourceArgument).compactMap(Source.init(argument:)).first ?? .test
        }
    }
}

/// A kind of source `auto` can pick from the devices.
protocol DeviceBackedSource: Sendable {
    init?(argument: String)
    static var test: Self { get }
    /// The flag that names it, for error messages.
    static var flag: String { get }
    /// The forms the flag takes, for error messages.
    static var forms: String { get }
    /// The GStreamer device class `auto` looks in.
    static var deviceClass: String { get }
}

extension VideoSource: DeviceBackedSource {
    static var flag: String { "--video" }
    static var forms: String { "auto, test, v4l2[:DEVICE], file:PATH, an rtsp://, rtsps://, http(s):// or srt:// URI, or none" }
    static var deviceClass: String { "Video/Source" }
}

extension AudioSource: DeviceBackedSource {
    static var flag: String { "--audio" }
    static var forms: String { "auto, test[:HZ] (a tone of 20-20000 Hz), alsa[:DEVICE], file:PATH, an rtsp://, rtsps://, http(s):// or srt:// URI, or none" }
    static var deviceClass: String { "Audio/Source" }
}
