/// One peer's video bitrate with `--encode per-peer`, from the loss its receiver reports:
/// down in proportion to heavy loss, slowly back up while there is almost none, never above
/// `--bitrate`. The loss-based half of what browsers do; enough to let one peer on a poor
/// link get less without costing the others anything.
struct BitrateController: Equatable {
    /// kbit/s.
    let maximum: Int
    let minimum: Int
    private(set) var current: Int

    init(maximum: Int) {
        self.maximum = maximum
        minimum = min(maximum, max(30, maximum / 20))
        current = maximum
    }

    /// Takes a receiver's report of `fractionLost` (0 to 1); returns the new target when it changes.
    mutating func update(fractionLost: Double) -> Int? {
        var next = current
        if fractionLost > 0.10 {
            next = max(minimum, Int(Double(current) * (1 - fractionLost / 2)))
        } else if fractionLost < 0.02 {
            next = min(maximum, Int((Double(current) * 1.08).rounded(.up)))
        }
        guard next != current else { return nil }
        current = next
        return next
    }
}
