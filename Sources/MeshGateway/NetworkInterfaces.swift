import Glibc

/// The machine's network interfaces, as `--ice-interface` names them (`eth0`, `wg0`,
/// `docker0`), read when a connection starts: an interface that came up since (a VPN) counts.
enum NetworkInterfaces {
    /// Each interface's IPv4 and IPv6 addresses now, by name.
    static func addresses() -> [String: [String]] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [:] }
        defer { freeifaddrs(list) }
        var result: [String: [String]] = [:]
        var entry = list
        while let current = entry?.pointee {
            entry = current.ifa_next
            guard let name = current.ifa_name.map({ String(cString: $0) }) else { continue }
            // Listed even without an address: `addresses(of:)` tells "no such" from "none now" alike.
            result[name, default: []] += []
            guard let address = current.ifa_addr, let text = numeric(address) else { continue }
            result[name, default: []].append(text)
        }
        return result
    }

    /// The addresses ICE may use on the interfaces `names`; an interface that does not
    /// exist, or has no address now, is named in `missing`.
    static func addresses(of names: [String]) -> (addresses: [String], missing: [String]) {
        let all = addresses()
        var found: [String] = []
        var missing: [String] = []
        for name in names {
            if let addresses = all[name], !addresses.isEmpty { found += addresses } else { missing.append(name) }
        }
        return (found, missing)
    }

    private static func numeric(_ address: UnsafeMutablePointer<sockaddr>) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &ip, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        case AF_INET6:
            var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &ip, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        default:
            return nil
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
