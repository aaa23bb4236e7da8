/// `--allowed-origin`: the pages that may open a WebSocket to this server.
///
/// Browsers send the page's origin with every upgrade, and a page on any site may
/// try to open one; the list stops another site's pages from joining calls with
/// the visitor's network position. Programs send no Origin and are not browsers'
/// pages, so the list does not apply to them.
struct OriginList: Sendable {
    private let allowed: Set<String>

    init(_ origins: [String]) {
        allowed = Set(origins.compactMap(Self.normalized))
    }

    /// Whether an upgrade carrying this Origin header may go ahead.
    func allows(_ origin: String?) -> Bool {
        guard !allowed.isEmpty, let origin else { return true }
        return Self.normalized(origin).map(allowed.contains) ?? false
    }

    /// `scheme://host[:port]` in lower case, without a trailing slash or a default port;
    /// `null` (a sandboxed or local page) as itself; nil for anything else.
    static func normalized(_ text: String) -> String? {
        var value = text.lowercased().trimmingSpaces()
        if value.hasSuffix("/") { value.removeLast() }
        if value == "null" { return value }
        guard let separator = value.firstRange(of: "://") else { return nil }
        let scheme = value[..<separator.lowerBound], host = value[separator.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }),
              !host.isEmpty, !host.contains(where: { "/?#@ \t".contains($0) }) else { return nil }
        for (name, port) in [("http", ":80"), ("https", ":443")] where scheme == name && host.hasSuffix(port) {
            return "\(scheme)://\(host.dropLast(port.count))"
        }
        return value
    }
}

private extension String {
    func trimmingSpaces() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
