import ArgumentParser

/// `--ice-ports MIN-MAX`: the UDP ports ICE may use.
struct PortRange: Sendable {
    let ports: ClosedRange<Int>

    /// Parses `MIN-MAX`, above the privileged ports an unprivileged gateway cannot bind.
    init(argument: String) throws(ValidationError) {
        let parts = argument.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]),
              1024 <= low, low <= high, high <= 65535 else {
            throw ValidationError("--ice-ports must be MIN-MAX between 1024 and 65535, e.g. 40000-40100, not '\(argument)'")
        }
        ports = low...high
    }
}
