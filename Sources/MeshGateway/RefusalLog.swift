import MeshProtocol

/// Decides which refusals of a peer's messages get a log line: the first in each interval,
/// with a count of those left unlogged in the interval before. A peer that keeps sending bad
/// messages then costs one line per interval, not one per message.
struct RefusalLog {
    enum Decision: Equatable {
        /// Log this one, and say how many went unlogged since the last line.
        case log(unlogged: Int)
        case quiet
    }

    private struct Window {
        var start: ContinuousClock.Instant
        var unlogged = 0
    }

    let interval: Duration
    private var windows: [PeerID: Window] = [:]

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    mutating func note(_ peer: PeerID, now: ContinuousClock.Instant = .now) -> Decision {
        if var window = windows[peer], now - window.start < interval {
            window.unlogged += 1
            windows[peer] = window
            return .quiet
        }
        let unlogged = windows[peer]?.unlogged ?? 0
        // Ids come from the network: keep only the windows still open once there are many.
        if windows.count >= 64 { windows = windows.filter { now - $0.value.start < interval } }
        windows[peer] = Window(start: now)
        return .log(unlogged: unlogged)
    }
}
