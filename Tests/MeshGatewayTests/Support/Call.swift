import Foundation
import MeshGateway
import MeshServer
import MeshTestSupport
import Synchronization

/// A server and the gateways and browsers a test joins to it; `Call.run` always ends them,
/// so that a failed test leaves no pipeline or browser running into the next one.
final class Call: Sendable {
    let reports: PageReports
    private let running: Mutex<TestServer?>
    let port: Int
    private let joined = Mutex<[TestGateway]>([])
    private let browsers = Mutex<[Browser]>([])

    /// A `meshgate serve` process, for calls on what lives in the executable (the hubs).
    private let served: MeshgateProcess?

    private init(server: TestServer?, served: MeshgateProcess? = nil, port: Int, reports: PageReports) {
        self.running = Mutex(server)
        self.served = served
        self.port = port
        self.reports = reports
    }

    /// The WebSocket URL of the call's server (the default room).
    var url: String { "ws://127.0.0.1:\(port)" }

    /// Stops the server as SIGTERM does; the call's peers stay connected to each other.
    func stopServer() async throws {
        try await running.withLock { server in defer { server = nil }; return server }?.stop()
        if let served, served.isRunning {
            served.signal(SIGTERM)
            _ = try await served.exitCode()
        }
    }

    /// Starts the server again on the same port.
    func startServerAgain() async throws {
        let server = try await TestServer.start(port: port)
        running.withLock { $0 = server }
    }

    static func run(_ body: (Call) async throws -> Void) async throws {
        try await run(configuring: { _ in }, body)
    }

    static func run(configuring configure: (inout ServerConfiguration) -> Void, _ body: (Call) async throws -> Void) async throws {
        let server = try await TestServer.start(configure)
        try await run(Call(server: server, port: server.port, reports: try await PageReports.start()), body)
    }

    /// Runs the call on a server sharing its rooms through `redis` (`serve --redis`); `other`
    /// is a second such server, for a test to join some of the call to.
    static func run(redis: RedisServer, _ body: (Call, _ other: TestServer) async throws -> Void) async throws {
        let server = try await TestServer.start(redis: redis)
        let other = try await TestServer.start(redis: redis)
        do {
            try await run(Call(server: server, port: server.port, reports: try await PageReports.start())) { try await body($0, other) }
        } catch {
            try? await other.stop()
            throw error
        }
        try await other.stop()
    }

    /// Runs the call on a `meshgate serve` process started as a user starts it, with `arguments`.
    static func run(serving arguments: [String], _ body: (Call) async throws -> Void) async throws {
        let served = try MeshgateProcess(["serve", "--host", "127.0.0.1", "--port", "0"] + arguments)
        let port = try await eventually("meshgate serve to listen", within: .seconds(20)) { () -> Int? in
            guard served.isRunning else { throw Timeout(description: "meshgate serve exited: \(served.stderr)") }
            let log = served.stderr
            return log.firstRange(of: "url=ws://127.0.0.1:").flatMap { Int(log[$0.upperBound...].prefix { $0.isNumber }) }
        }
        do {
            try await run(Call(server: nil, served: served, port: port, reports: try await PageReports.start()), body)
        } catch {
            let log = served.stderr.split(separator: "\n").filter { !$0.contains("loop detected") }.suffix(60)
            throw Timeout(description: "\(error)\nmeshgate serve's log, its end:\n\(log.joined(separator: "\n"))")
        }
    }

    private static func run(_ call: Call, _ body: (Call) async throws -> Void) async throws {
        do {
            try await body(call)
        } catch {
            await call.end()
            throw error
        }
        await call.end()
    }

    /// Joins a gateway to the default room, or to `path` (a room, a token).
    func join(_ id: String, at path: String = "", record: Bool = true, _ configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> TestGateway {
        let gateway = try await TestGateway.join(url + path, id: id, record: record, configure)
        joined.withLock { $0.append(gateway) }
        return gateway
    }

    /// Opens the browser client served by the call's server, at `host` and `path` (a room),
    /// as `id`; with `autojoin` it joins without a click.
    func open(_ kind: Browser.Kind, id: String, name: String? = nil, autojoin: Bool = true, host: String = "127.0.0.1",
              path: String = "/", query extra: [String: String] = [:], h264: Bool = true) throws -> Browser {
        var query = extra.merging(["id": id, "report": reports.url(for: id)]) { _, new in new }
        if autojoin { query["autojoin"] = "1" }
        if let name { query["name"] = name }
        return try open(kind, id: id, url: "http://\(host):\(port)\(path)?" + Self.query(query), h264: h264)
    }

    /// Opens the test page `fixture` with the call's WebSocket URL (to `path`, a room), `id` and report URL.
    func open(_ kind: Browser.Kind, id: String, fixture: String, path: String = "") throws -> Browser {
        try open(kind, id: id, url: reports.fixture(fixture) + "?" + Self.query([
            "server": url + path, "id": id, "report": reports.url(for: id),
        ]))
    }

    private func open(_ kind: Browser.Kind, id: String, url: String, h264: Bool = true) throws -> Browser {
        reports.forget(id)
        let browser = try Browser(kind, id: id, url: url, reports: reports, h264: h264)
        browsers.withLock { $0.append(browser) }
        return browser
    }

    private static func query(_ items: [String: String]) -> String {
        var components = URLComponents()
        components.queryItems = items.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves ":" and "/" alone; the page decodes either way.
        return components.percentEncodedQuery ?? ""
    }

    private func end() async {
        for browser in browsers.withLock({ $0 }) { try? await browser.close() }
        for gateway in joined.withLock({ $0 }) { try? await gateway.leave() }
        try? await stopServer()
        await reports.stop()
    }
}
