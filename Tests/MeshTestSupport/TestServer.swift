import Logging
import MeshServer
import Redis
import ServiceLifecycle
import Synchronization

/// A real ``MeshServer`` on an ephemeral loopback port, for one test.
public final class TestServer: Sendable {
    public let server: MeshServer
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public var url: String { "\(server.configuration.tls == nil ? "ws" : "wss")://127.0.0.1:\(port)" }

    private init(server: MeshServer, port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.group = group
        self.task = task
    }

    /// Starts a server on `port` (0: any free port), configured by `configure`, logging to
    /// `logger` (warnings and worse on the test's output if not given); with `redis`, sharing
    /// rooms with every server on that Redis.
    public static func start(
        port: Int = 0, logger: Logger? = nil, redis: RedisServer? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = port
        configure(&configuration)
        let logger = logger ?? {
            var logger = Logger(label: "test.server")
            logger.logLevel = .warning
            return logger
        }()
        let cluster = try redis.map { try RedisRooms.connect(try $0.address, logger: logger) }
        cluster?.limitRooms(to: configuration.maxRoomSize)
        let server = MeshServer(configuration: configuration, logger: logger, cluster: cluster)
        let bound = Mutex<Int?>(nil)
        let group = ServiceGroup(configuration: .init(
            services: try server.services { port in bound.withLock { $0 = port } },
            logger: logger
        ))
        let task = Task { try await group.run() }
        let port = try await eventually("server to listen") { bound.withLock { $0 } }
        return TestServer(server: server, port: port, group: group, task: task)
    }

    /// Graceful shutdown, as SIGTERM does it; waits until the server has stopped.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

public struct Timeout: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Polls until `probe` gives a value; only a guard against hangs, not a timing assertion.
@discardableResult
public func eventually<T>(
    _ what: String,
    within limit: Duration = .seconds(10),
    _ probe: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let value = try await probe() { return value }
        if ContinuousClock.now > deadline { throw Timeout(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}
