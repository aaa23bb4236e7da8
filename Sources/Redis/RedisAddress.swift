import Foundation

/// Where a Redis server is, as `serve --redis` takes it:
/// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS.
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: Int
    public var tls: Bool
    /// How `rediss://` checks Redis and shows itself; not part of the URL.
    public var tlsFiles = RedisTLSFiles()

    public static let defaultPort = 6379

    public init(host: String, port: Int = defaultPort, user: String? = nil, password: String? = nil, database: Int = 0, tls: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a `redis://` or `rediss://` URL, saying what is wrong with one it cannot take.
    public init(_ text: String) throws(RedisError) {
        let form = "redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://…"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw RedisError("'\(Self.masked(text))' is not a URL: give \(form)")
        }
        guard scheme == "redis" || scheme == "rediss" else {
            throw RedisError("'\(scheme)://' is not Redis: give \(form)")
        }
        guard let host = components.host, !host.isEmpty else { throw RedisError("'\(Self.masked(text))' names no host: give \(form)") }
        let port = components.port ?? Self.defaultPort
        guard (1...65535).contains(port) else { throw RedisError("port \(port) is not a TCP port") }
        let path = components.path.drop { $0 == "/" }
        guard path.isEmpty || Int(path).map({ $0 >= 0 }) == true else {
            throw RedisError("'/\(path)' is not a database number: give /0, /1…")
        }
        guard components.query == nil else { throw RedisError("a Redis URL takes no query ('?\(components.query ?? "")')") }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        let password = components.password.map { $0.removingPercentEncoding ?? $0 }
        // A bracketed IPv6 host comes back with its brackets.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.init(host: bare, port: port, user: user, password: password, database: Int(path) ?? 0, tls: scheme == "rediss")
    }

    /// As logs and errors show it: the password masked.
    public var description: String {
        let credentials = password != nil ? "\(user ?? ""):***@" : user.map { "\($0)@" } ?? ""
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(tls ? "rediss" : "redis")://\(credentials)\(host):\(port)/\(database)"
    }

    /// `text` with anything between `://` and `@` masked, for an error about a URL that did not parse.
    static func masked(_ text: String) -> String {
        guard let start = text.range(of: "://"), let at = text.range(of: "@", range: start.upperBound..<text.endIndex) else { return text }
        return text.replacingCharacters(in: start.upperBound..<at.lowerBound, with: "***")
    }
}

/// What went wrong talking to Redis, said for a person.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
