import Foundation
import Redis
import Synchronization

/// A real `redis-server` (Debian's) on loopback, for a test: nothing saved, a folder of its
/// own; ``stop()`` kills it as a crash would, ``start()`` brings it back on the same port.
/// With a `tls` authority it takes TLS only, and only from clients with its client certificate.
public final class RedisServer: Sendable {
    public let port: Int
    public let password: String?
    public let tls: TestAuthority?
    /// More of redis-server's options (`--user …` for an ACL user).
    private let options: [String]
    private let folder: String
    private let process = Mutex<Process?>(nil)

    /// `redis://[:PASSWORD@]127.0.0.1:PORT`, `rediss://[:PASSWORD@]localhost:PORT` with TLS
    /// (the name its certificate has).
    public var url: String {
        (tls == nil ? "redis://" : "rediss://") + (password.map { ":\($0)@" } ?? "") + (tls == nil ? "127.0.0.1" : "localhost") + ":\(port)"
    }

    /// The URL with what TLS needs to reach it.
    public var address: RedisAddress {
        get throws {
            var address = try RedisAddress(url)
            if let tls { address.tlsFiles = RedisTLSFiles(authority: tls.authority, certificate: tls.clientCertificate, key: tls.clientKey) }
            return address
        }
    }

    /// What `meshgate serve` is given to reach it.
    public var serveArguments: [String] {
        ["--redis", url] + (tls.map { ["--redis-ca", $0.authority, "--redis-cert", $0.clientCertificate, "--redis-key", $0.clientKey] } ?? [])
    }

    public static func start(password: String? = nil, tls: TestAuthority? = nil, options: [String] = []) async throws -> RedisServer {
        let server = RedisServer(port: try freePort(), password: password, tls: tls, options: options, folder: try temporaryFolder())
        try await server.start()
        return server
    }

    private init(port: Int, password: String?, tls: TestAuthority?, options: [String], folder: String) {
        self.port = port
        self.password = password
        self.tls = tls
        self.options = options
        self.folder = folder
    }

    deinit { stop() }

    /// Starts it (again), and returns once it answers.
    public func start() async throws {
        let redis = Process()
        redis.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        let listening = tls.map { ["--port", "0", "--tls-port", String(port), "--tls-cert-file", $0.serverCertificate, "--tls-key-file", $0.serverKey,
                                   "--tls-ca-cert-file", $0.authority, "--tls-auth-clients", "yes"] } ?? ["--port", String(port)]
        redis.arguments = listening + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder,
                           "--logfile", folder + "/redis.log"] + (password.map { ["--requirepass", $0] } ?? []) + options
        try redis.run()
        process.withLock { $0 = redis }
        let address = try self.address
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? RedisConnection(address).run(["PING"])) == .status("PONG") { return }
            guard redis.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: folder + "/redis.log", encoding: .utf8)) ?? ""
        throw RedisError("redis-server did not start on port \(port): \(log.suffix(500))")
    }

    /// Kills it (SIGKILL), as a crash or a pulled cable would end it.
    public func stop() {
        guard let redis = process.withLock({ $0.take() }), redis.isRunning else { return }
        kill(redis.processIdentifier, SIGKILL)
        redis.waitUntilExit()
    }

    private static func temporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshgate-redis-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A TCP port nothing listens on now, as the kernel picks one.
    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RedisError("no socket for a free port") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw RedisError("cannot bind a socket for a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
