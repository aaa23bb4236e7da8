import MeshProtocol

/// What `meshgate ctl` asks a running gateway (`--control`), each answered by the loop in turn.
public enum ControlCommand: Sendable, Equatable {
    case peers
    /// Black frames or silence from now on; connections and encoders stay as they are.
    case mute(MediaKind)
    case unmute(MediaKind)
    /// Feed `kind`'s encoders from another source (``SourceSwitch/Target``), without
    /// renegotiating; a file with `loop` plays over and over.
    case source(MediaKind, String, loop: Bool)
    /// Record what each peer sends into `directory` (absolute), from now on, and each peer that comes.
    case recordStart(directory: String)
    /// Finalise every recording; nothing more is recorded.
    case recordStop
    case leave
}

/// The loop's answer to a ``ControlCommand``.
public enum ControlReply: Sendable, Equatable {
    case peers([PeerStatus])
    /// Done; what the gateway now does.
    case done(String)
    /// Not done, and why: what to do instead.
    case refused(String)
}

/// One peer as `meshgate ctl peers` shows it.
public struct PeerStatus: Sendable, Equatable, Codable {
    public let id: PeerID
    public let name: String
    /// `new`, `connecting`, `connected`, `stalled`, `disconnected`, `failed`, `closed`.
    public let state: String
    /// The video codec we send it, when we send video.
    public let videoCodec: String?
    /// kbit/s from and to it over the last 2 s; nil until two rounds of statistics came.
    public let kbpsIn: Int?
    public let kbpsOut: Int?
    /// The file its media is being recorded into.
    public let recording: String?

    enum CodingKeys: String, CodingKey {
        case id, name, state, recording
        case videoCodec = "video_codec"
        case kbpsIn = "kbps_in"
        case kbpsOut = "kbps_out"
    }
}
