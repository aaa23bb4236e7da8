#if canImport(Glibc)
import Glibc
#endif

/// The host names to print for a server listening on `host`: one for this machine, and,
/// when it listens on every address, one that other machines can use.
enum ListeningAddress {
    static func shown(for host: String) -> (local: String, others: String?) {
        guard host == "0.0.0.0" || host == "::" else { return (host, nil) }
        return ("localhost", firstLANAddress())
    }

    /// The first IPv4 address of an interface that is up and not loopback.
    private static func firstLANAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry?.pointee {
            defer { entry = current.ifa_next }
            guard let address = current.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  current.ifa_flags & UInt32(IFF_UP) != 0, current.ifa_flags & UInt32(IFF_LOOPBACK) == 0 else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let found = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var ip = inet.pointee.sin_addr
                return inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil
            }
            if found { return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return nil
    }
}
