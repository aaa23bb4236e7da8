import GStreamer
import Logging
import MeshProtocol

/// What every peer session shares with the gateway: set once when the gateway starts.
struct PeerContext {
    let configuration: GatewayConfiguration
    let logger: Logger
    let pipeline: Pipeline
    /// The tees peers' sending branches attach to; a kind we do not send has none.
    let feeds: Feeds
    /// What comes from the source's video, when it passes through: its keyframe interval.
    let sourceVideo: StreamWatch?
    /// What the shared video encoder has made, with `--encode once`.
    let encodedVideo: BufferCounter?
    let signalling: SignallingClient
    /// `--compose`: what peers send also goes into one picture and one mix.
    let composer: Composer?
    /// `--metrics`: each peer's statistics go there.
    let metrics: GatewayMetrics?
    /// Where what peers send is recorded now: `--record`, then `meshgate ctl record`.
    let recording: RecordingTarget
    let post: @Sendable (Gateway.Event) -> Void
    let children: ChildTasks

    /// A hub sends every peer audio: a mix of its own (``Composer/mix(for:)``).
    var sending: Set<MediaKind> { configuration.isHub ? feeds.sending.union([.audio]) : feeds.sending }

    func send(_ message: Message) {
        signalling.send(message.jsonText())
    }

    /// Posts events of the connection `serial` to `id`, from any thread.
    func poster(for id: PeerID, serial: Int) -> @Sendable (PeerEvent) -> Void {
        let post = post
        return { post(.peer(id, serial: serial, $0)) }
    }
}

/// The folder recordings go to, nil while nothing is recorded; changed by the loop only.
final class RecordingTarget {
    var directory: String?

    init(_ directory: String?) {
        self.directory = directory
    }
}

/// What happens to one peer connection, from GStreamer's threads and from timers; each is
/// posted with the connection's serial, so that an event of a connection already replaced
/// is dropped.
enum PeerEvent: Sendable {
    case webrtc(WebRTCEvent)
    /// Every sending branch may have caps now.
    case capsChanged
    case timer(Negotiation.Timer)
    case firstFrame
    /// Time for the recording's streams to have started.
    case recordingDue
    case statistics(Statistics?, for: StatisticsUse)
    case chat(DataChannelEvent)
}

/// Why statistics were asked for.
enum StatisticsUse: Sendable {
    /// A `--stats` line.
    case report
    /// Adapting the peer's own video bitrate (`--encode per-peer`).
    case bitrate
    /// Each peer's kbit/s (`--metrics`, `--control`).
    case traffic
}
