/// Text that may be shown: a server's `?token=` and a TURN server's password are secrets,
/// and logs and error messages are read by others (support tickets, shared terminals, CI).
public enum Redacted {
    static let mask = "***"

    /// `url` with every query value and the password of its user info masked:
    /// `ws://h:8000/room/a?token=***`, `turn://user:***@h:3478`.
    public static func url(_ url: String) -> String {
        var text = Substring(url)
        var query: Substring?
        if let mark = text.firstIndex(of: "?") {
            query = text[text.index(after: mark)...]
            text = text[..<mark]
        }
        var shown = String(text)
        if let scheme = text.range(of: "://") {
            let authority = text[scheme.upperBound...].prefix { $0 != "/" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                shown = String(text[..<authority.index(after: colon)]) + mask + String(text[at...])
            }
        }
        guard let query else { return shown }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            pair.contains("=") ? pair.prefix { $0 != "=" } + "=" + mask : pair
        }
        return shown + "?" + pairs.joined(separator: "&")
    }
}
