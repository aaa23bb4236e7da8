import Foundation

/// Browsers without camera permission hide their address behind an mDNS name
/// (`1f0c….local`), which the gateway's machine must resolve to connect to them: through
/// nss-mdns (libnss-mdns and avahi-daemon on Debian), configured in /etc/nsswitch.conf.
enum MDNS {
    /// The host name an ICE candidate line gives, when it is an mDNS one.
    static func name(inCandidate line: String) -> String? {
        // candidate:FOUNDATION COMPONENT PROTOCOL PRIORITY ADDRESS PORT typ TYPE ...
        let fields = line.split(separator: " ")
        guard fields.count > 4, fields[4].lowercased().hasSuffix(".local") else { return nil }
        return String(fields[4])
    }

    /// Whether a `hosts:` line of nsswitch.conf asks nss-mdns.
    static func resolves(nsswitch text: String) -> Bool {
        text.split(separator: "\n").contains { line in
            let words = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?.split(whereSeparator: \.isWhitespace) ?? []
            return words.first == "hosts:" && words.dropFirst().contains { $0.hasPrefix("mdns") }
        }
    }

    /// Whether this machine resolves mDNS names.
    static let resolvesHere: Bool = {
        (try? String(contentsOfFile: "/etc/nsswitch.conf", encoding: .utf8)).map(resolves(nsswitch:)) ?? false
    }()
}
