/// Whether anything still comes in from a peer. ICE can say `connected` long after the other
/// side has gone (it closed our connection while our signalling socket was away, say): what
/// arrives, media or RTCP, is what tells.
struct Liveness {
    /// Nothing for this long, while connected, and the peer is `stalled`.
    static let stallAfter = Duration.seconds(5)
    /// Nothing for this long and its network is gone (RFC 7675 gives up consent after 30 s):
    /// the connection is closed, and a new one offered while the peer stays listed.
    static let goneAfter = Duration.seconds(25)

    enum Change: Equatable { case stalled, resumed, gone }

    /// When the count of arrived packets last grew, as seen by `update`.
    private(set) var lastArrival: ContinuousClock.Instant?
    private(set) var stalled = false
    private var arrived = 0

    /// Takes the count of packets arrived so far; call it every second or so while connected.
    mutating func update(arrived count: Int, now: ContinuousClock.Instant) -> Change? {
        guard let last = lastArrival else {
            lastArrival = now
            arrived = count
            return nil
        }
        if count != arrived {
            arrived = count
            lastArrival = now
            guard stalled else { return nil }
            stalled = false
            return .resumed
        }
        // A peer that never sent anything (two receive-only gateways) cannot be judged by it.
        if stalled, arrived > 0, now - last >= Self.goneAfter { return .gone }
        guard !stalled, now - last >= Self.stallAfter else { return nil }
        stalled = true
        return .stalled
    }
}

/// After our signalling socket was away, whether a peer we kept still has us: its side may
/// have closed the connection when the server announced us gone, and then nothing comes
/// from it. Packets that waited in our socket while the process was paused count for
/// nothing: the watch starts a second after we registered again.
struct ResyncCheck {
    static let settle = Duration.seconds(1)
    static let window = Duration.seconds(5)

    enum Verdict: Equatable { case waiting, alive, gone }

    private let registeredAt: ContinuousClock.Instant
    private var baseline: (count: Int, at: ContinuousClock.Instant)?

    init(registeredAt: ContinuousClock.Instant) {
        self.registeredAt = registeredAt
    }

    mutating func update(arrived count: Int, now: ContinuousClock.Instant) -> Verdict {
        guard let baseline else {
            if now - registeredAt >= Self.settle { baseline = (count, now) }
            return .waiting
        }
        if count != baseline.count { return .alive }
        return now - baseline.at >= Self.window ? .gone : .waiting
    }
}
