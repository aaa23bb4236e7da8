/// Whether a network source delivers, and when to open it again after it dropped: 1 s, then
/// twice as long each time up to 10 s. Pure, so the timing is tested without a camera
/// (`SourceHealthTests`).
struct SourceHealth {
    enum Phase: Equatable {
        case playing
        /// Closed, waiting to be opened again; `attempt` is the next try's number.
        case down(attempt: Int)
        /// Opened again, not delivering yet.
        case reopened(attempt: Int)
    }

    enum Verdict: Equatable {
        case lost(reason: String)
        /// Media flows again, this long after it stopped.
        case back(after: Duration)
    }

    /// A source that delivers nothing for this long has dropped, even if it said nothing.
    static let stallAfter = Duration.seconds(5)

    private(set) var phase = Phase.playing
    private var buffers = 0
    private var changedAt: ContinuousClock.Instant
    private var lostAt: ContinuousClock.Instant?

    init(now: ContinuousClock.Instant) {
        changedAt = now
    }

    /// How long to wait before try number `attempt` (from 1).
    static func delay(beforeAttempt attempt: Int) -> Duration {
        .seconds(min(10, 1 << min(max(attempt - 1, 0), 4)))
    }

    /// Looks at the buffers counted so far (called every second).
    mutating func check(buffers count: Int, now: ContinuousClock.Instant) -> Verdict? {
        if count != buffers {
            buffers = count
            changedAt = now
            guard case .reopened = phase else { return nil }
            phase = .playing
            defer { lostAt = nil }
            return .back(after: now - (lostAt ?? now))
        }
        guard now - changedAt >= Self.stallAfter else { return nil }
        switch phase {
        case .playing: return .lost(reason: "nothing came from it for \(Self.stallAfter.components.seconds) s")
        case .reopened: return .lost(reason: "it opened but sent nothing for \(Self.stallAfter.components.seconds) s")
        case .down: return nil
        }
    }

    /// The source failed (an error, its end, a stall): the wait before opening it again, or
    /// nil when it is already down and waiting.
    mutating func lost(now: ContinuousClock.Instant) -> Duration? {
        let attempt: Int
        switch phase {
        case .down: return nil
        case .playing:
            lostAt = now
            attempt = 1
        case .reopened(let previous):
            attempt = previous + 1
        }
        phase = .down(attempt: attempt)
        return Self.delay(beforeAttempt: attempt)
    }

    /// It is being opened again now.
    mutating func reopening(now: ContinuousClock.Instant) {
        guard case .down(let attempt) = phase else { return }
        phase = .reopened(attempt: attempt)
        changedAt = now
    }
}
