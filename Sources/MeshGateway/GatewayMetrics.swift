import CoreMetrics
import GStreamer
import MeshProtocol

/// What `join --metrics` shows: each peer's traffic (labelled with its id) from webrtcbin's
/// statistics, the shared encoders and the sources. Brought up to date every
/// ``TrafficRates/interval`` by the loop, which owns it.
final class GatewayMetrics {
    private let factory: any MetricsFactory
    private var peers: [PeerID: PeerMetrics] = [:]
    private let encoders: [VideoCodec: Gauge]
    private let keyframes: Counter
    private var keyframesCounted = 0
    private var sources: [MediaKind: Choice] = [:]

    init(factory: any MetricsFactory, codecs: [VideoCodec]) {
        self.factory = factory
        var encoders: [VideoCodec: Gauge] = [:]
        for codec in codecs {
            encoders[codec] = Gauge(label: "meshgate_encoder_running", dimensions: [("codec", codec.rawValue)], factory: factory)
        }
        self.encoders = encoders
        keyframes = Counter(label: "meshgate_encoder_keyframes_total", factory: factory)
    }

    /// The shared encoders and the sources, as they are now.
    func update(_ media: SendingMedia) {
        let running = Set(media.encodersRunning)
        for (codec, gauge) in encoders { gauge.record(running.contains(codec) ? 1 : 0) }
        let made = media.encodedVideo?.keyframes ?? 0
        if made > keyframesCounted { keyframes.increment(by: made - keyframesCounted) }
        keyframesCounted = made
        for (kind, phase) in media.sourcePhases {
            let choice = sources[kind] ?? Choice(label: "meshgate_source_state", dimensions: [("kind", kind.rawValue)],
                                                 values: SourceHealth.Phase.names, factory: factory)
            sources[kind] = choice
            choice.set(phase.name)
        }
    }

    /// A peer's statistics came back: its gauges move, and its frames are counted.
    func update(_ session: PeerSession, _ statistics: Statistics?) {
        let peer = peers[session.id] ?? PeerMetrics(id: session.id, factory: factory)
        peers[session.id] = peer
        peer.update(session, statistics)
    }

    /// The peer left: its series go, so that a scrape lists only the peers there are.
    func remove(_ id: PeerID) {
        peers.removeValue(forKey: id)?.destroy()
    }
}

/// One peer's series.
private final class PeerMetrics {
    private let kbpsIn: Gauge
    private let kbpsOut: Gauge
    private let framesIn: Counter
    private let packetsLost: Gauge
    private let rtt: Gauge
    private let jitter: Gauge
    private let state: Choice
    private var framesCounted = 0

    init(id: PeerID, factory: any MetricsFactory) {
        let peer = [("peer", id)]
        kbpsIn = Gauge(label: "meshgate_peer_received_kbps", dimensions: peer, factory: factory)
        kbpsOut = Gauge(label: "meshgate_peer_sent_kbps", dimensions: peer, factory: factory)
        framesIn = Counter(label: "meshgate_peer_frames_received_total", dimensions: peer, factory: factory)
        packetsLost = Gauge(label: "meshgate_peer_packets_lost", dimensions: peer, factory: factory)
        rtt = Gauge(label: "meshgate_peer_rtt_seconds", dimensions: peer, factory: factory)
        jitter = Gauge(label: "meshgate_peer_jitter_seconds", dimensions: peer, factory: factory)
        state = Choice(label: "meshgate_peer_state", dimensions: peer, values: PeerSession.shownStates, factory: factory)
    }

    func update(_ session: PeerSession, _ statistics: Statistics?) {
        state.set(session.shownState)
        // A new connection to the same peer counts its frames again from zero.
        let frames = session.media.received.value
        framesIn.increment(by: frames - (frames >= framesCounted ? framesCounted : 0))
        framesCounted = frames
        if let kbps = session.rates.kbpsIn { kbpsIn.record(kbps) }
        if let kbps = session.rates.kbpsOut { kbpsOut.record(kbps) }
        guard let traffic = statistics?.traffic else { return }
        packetsLost.record(traffic.packetsLost)
        if let seconds = traffic.rtt { rtt.record(seconds) }
        if let seconds = traffic.jitter { jitter.record(seconds) }
    }

    func destroy() {
        for gauge in [kbpsIn, kbpsOut, packetsLost, rtt, jitter] { gauge.destroy() }
        framesIn.destroy()
        state.destroy()
    }
}

/// A state as Prometheus shows one: a gauge per possible value, 1 for the current one and
/// 0 for the others, so that a query or an alert need not know the previous value.
private final class Choice {
    private let gauges: [String: Gauge]

    init(label: String, dimensions: [(String, String)], values: [String], factory: any MetricsFactory) {
        var gauges: [String: Gauge] = [:]
        for value in values {
            gauges[value] = Gauge(label: label, dimensions: dimensions + [("state", value)], factory: factory)
        }
        self.gauges = gauges
    }

    func set(_ current: String) {
        for (value, gauge) in gauges { gauge.record(value == current ? 1 : 0) }
    }

    func destroy() {
        for gauge in gauges.values { gauge.destroy() }
    }
}

extension SourceHealth.Phase {
    static let names = ["playing", "lost", "reopened"]

    var name: String {
        switch self {
        case .playing: "playing"
        case .down: "lost"
        case .reopened: "reopened"
        }
    }
}
