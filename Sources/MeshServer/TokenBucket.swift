/// One socket's allowance of frames: `rate` a second on average, up to `burst` at once.
///
/// A value type that is told the time, so the rule is testable without waiting.
struct TokenBucket {
    /// Frames a second; zero or less means no limit.
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    /// Starts full: a client may send its first `burst` frames at once (a joiner's offers
    /// and candidates to everyone in the room).
    init(rate: Double, burst: Int, now: ContinuousClock.Instant) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
        self.tokens = self.burst
        self.updated = now
    }

    /// Takes a token for one frame; false when there is none left.
    mutating func take(at now: ContinuousClock.Instant) -> Bool {
        guard rate > 0 else { return true }
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + max(seconds, 0) * rate)
        updated = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
