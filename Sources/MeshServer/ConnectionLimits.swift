#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Counts the open TCP connections, in all and per client address, so that one host cannot
/// take every file descriptor the server has. A connection over a limit is closed as it is
/// accepted, before it costs a read.
///
/// Behind a reverse proxy every client comes from the proxy's address: connections from a
/// trusted proxy count in all at once, and per address once their request says whom the
/// proxy speaks for (the last X-Forwarded-For address it added).
final class ConnectionLimits: Sendable {
    /// Why a connection was refused: the label of its metric and the log's code.
    enum Refusal: String, Error {
        case total = "too_many_connections"
        case perAddress = "too_many_connections_from_address"
    }

    struct Limits: Sendable {
        /// Connections open at once; the server's file descriptors bound it.
        var total: Int
        /// Connections open at once from one address (IPv6: one /64); zero: no limit.
        var perAddress: Int
        /// Addresses of reverse proxies whose X-Forwarded-For names the client.
        var trustedProxies: Set<String>
    }

    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
        var lastLogged: ContinuousClock.Instant?
        var unlogged = 0
    }

    let limits: Limits
    private let state = Mutex(State())

    init(_ limits: Limits) {
        self.limits = limits
    }

    var open: Int { state.withLock { $0.total } }

    /// Connections open from `address` as counted per address.
    func open(from address: String) -> Int {
        guard let key = Self.key(address) else { return 0 }
        return state.withLock { $0.perAddress[key, default: 0] }
    }

    /// Counts a connection just accepted from `address` (nil: not an IP connection), in all
    /// and, unless it is a trusted proxy's, per address. Success holds what `release` gives
    /// back besides the total: the address's key, nil when none was counted.
    func accept(from address: String?) -> Result<String?, Refusal> {
        let normalized = address.flatMap(Self.normalized)
        let key = normalized.flatMap { limits.trustedProxies.contains($0) ? nil : Self.key($0) }
        return state.withLock { state in
            guard state.total < limits.total else { return .failure(.total) }
            if let key {
                guard admits(key, in: state) else { return .failure(.perAddress) }
                state.perAddress[key, default: 0] += 1
            }
            state.total += 1
            return .success(key)
        }
    }

    /// Counts a trusted proxy's connection under the client it speaks for (a `client(…)`);
    /// success holds the key to release.
    func forwarded(for client: String) -> Result<String, Refusal> {
        guard let key = Self.key(client) else { return .failure(.perAddress) }
        return state.withLock { state in
            guard admits(key, in: state) else { return .failure(.perAddress) }
            state.perAddress[key, default: 0] += 1
            return .success(key)
        }
    }

    private func admits(_ key: String, in state: State) -> Bool {
        limits.perAddress == 0 || state.perAddress[key, default: 0] < limits.perAddress
    }

    /// A connection closed: what `accept` counted (`total`) and what `key` counted go back.
    func release(key: String?, total: Bool) {
        state.withLock { state in
            if total { state.total -= 1 }
            guard let key, let count = state.perAddress[key] else { return }
            state.perAddress[key] = count > 1 ? count - 1 : nil
        }
    }

    /// Whether a refusal is logged now: the first, then one every 10 s with how many went
    /// unlogged before it, so that a flood of connections is not a flood of lines.
    func logsRefusal(at now: ContinuousClock.Instant = .now) -> (log: Bool, unlogged: Int) {
        state.withLock { state in
            if let last = state.lastLogged, now - last < .seconds(10) {
                state.unlogged += 1
                return (false, 0)
            }
            defer { state.unlogged = 0 }
            state.lastLogged = now
            return (true, state.unlogged)
        }
    }

    /// Whether a connection from `address` comes through a trusted proxy.
    func isTrustedProxy(_ address: String?) -> Bool {
        address.flatMap(Self.normalized).map(limits.trustedProxies.contains) ?? false
    }

    /// The client a trusted proxy speaks for: the last address in X-Forwarded-For that is
    /// not itself a trusted proxy (the ones before it are whatever the client claimed); nil
    /// when there is none, or it is not an address.
    func client(inForwardedFor values: [String]) -> String? {
        let addresses = values.flatMap { $0.split(separator: ",") }.map { String($0.filter { $0 != " " && $0 != "\t" }) }
        return addresses.last { !isTrustedProxy($0) }.flatMap(Self.normalized)
    }

    /// The address as one spelling (IPv4-mapped IPv6 as IPv4); nil if it is not an IP address.
    static func normalized(_ address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return address }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return bytes[12...].map { String($0) }.joined(separator: ".")
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count)) != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What one client is counted by: its IPv4 address, or the /64 of its IPv6 address (one
    /// host is commonly given a whole /64).
    static func key(_ address: String) -> String? {
        guard let normalized = normalized(address) else { return nil }
        guard normalized.contains(":") else { return normalized }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, normalized, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":") + "::/64"
    }
}
