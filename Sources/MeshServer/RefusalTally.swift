import MeshProtocol

/// A socket's refused frames, so that the log gets the first refusal in full and then one
/// summary per interval: a client sending garbage as fast as it can must not fill the disk.
struct RefusalTally {
    /// What the log says about the refusals since the first one.
    struct Summary: Equatable {
        var count: Int
        var codes: [ProtocolError.Code: Int]
        var over: Duration

        /// `rate_limited:1200,invalid_json:34`, the most frequent first.
        var codeList: String {
            codes.sorted { ($1.value, $0.key.rawValue) < ($0.value, $1.key.rawValue) }
                .map { "\($0.key.rawValue):\($0.value)" }
                .joined(separator: ",")
        }
    }

    private(set) var counts: [ProtocolError.Code: Int] = [:]
    private var since: ContinuousClock.Instant?

    /// Counts one refusal; true when it is the first since the last summary, which the log shows in full.
    mutating func count(_ code: ProtocolError.Code, at now: ContinuousClock.Instant) -> Bool {
        let first = since == nil
        if first { since = now }
        counts[code, default: 0] += 1
        return first
    }

    /// Refusals of this kind since the first one.
    func count(of code: ProtocolError.Code) -> Int { counts[code] ?? 0 }

    /// Once `interval` has passed since the first refusal (at once when `final`), starts
    /// counting afresh and returns what to log, if more than the one logged in full.
    mutating func summary(at now: ContinuousClock.Instant, every interval: Duration, final: Bool = false) -> Summary? {
        guard let since, final || now - since >= interval else { return nil }
        let summary = Summary(count: counts.values.reduce(0, +), codes: counts, over: now - since)
        counts = [:]
        self.since = nil
        return summary.count > 1 ? summary : nil
    }
}
