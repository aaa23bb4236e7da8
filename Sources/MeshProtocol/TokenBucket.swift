/// An allowance of messages: `rate` a second on average, up to `burst` at once. The server
/// keeps one per socket; a gateway keeps one for what it sends, so that it stays inside the
/// server's limit, and one per peer for the offers it answers.
///
/// A value type that is told the time, so the rule is testable without waiting.
public struct TokenBucket: Sendable {
    /// Messages a second; zero or less means no limit.
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    /// Starts full: a client may send its first `burst` frames at once (a joiner's offers
    /// and candidates to everyone in the room).
    public init(rate: Double, burst: Int, now: ContinuousClock.Instant) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
        self.tokens = self.burst
        self.updated = now
    }

    /// Takes a token for one message; false when there is none left.
    public mutating func take(at now: ContinuousClock.Instant) -> Bool {
        guard rate > 0 else { return true }
        refill(at: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// How long until `take` will succeed: zero when a token is there now.
    public mutating func wait(at now: ContinuousClock.Instant) -> Duration {
        guard rate > 0 else { return .zero }
        refill(at: now)
        return tokens >= 1 ? .zero : .seconds((1 - tokens) / rate)
    }

    private mutating func refill(at now: ContinuousClock.Instant) {
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + max(seconds, 0) * rate)
        updated = now
    }
}
