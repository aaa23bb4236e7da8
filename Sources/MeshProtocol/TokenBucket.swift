/// An allowance: `rate` a second on average, up to `burst` at once, counted in messages or
/// in bytes. The server keeps one of each per socket; a gateway keeps one of each for what it
/// sends, so that it stays inside the server's limits, and one per peer for the offers it
/// answers.
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

    /// Takes `amount` tokens (one message, or a message's bytes); false, taking none, when
    /// fewer are left. An amount above `burst` is taken as `burst`: it passes when the
    /// allowance is full, rather than never.
    public mutating func take(_ amount: Int = 1, at now: ContinuousClock.Instant) -> Bool {
        guard rate > 0 else { return true }
        refill(at: now)
        let needed = min(Double(amount), burst)
        guard tokens >= needed else { return false }
        tokens -= needed
        return true
    }

    /// How long until `take(amount)` will succeed: zero when the tokens are there now.
    public mutating func wait(for amount: Int = 1, at now: ContinuousClock.Instant) -> Duration {
        guard rate > 0 else { return .zero }
        refill(at: now)
        let needed = min(Double(amount), burst)
        return tokens >= needed ? .zero : .seconds((needed - tokens) / rate)
    }

    private mutating func refill(at now: ContinuousClock.Instant) {
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + max(seconds, 0) * rate)
        updated = now
    }
}
