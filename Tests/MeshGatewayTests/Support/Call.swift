import Foundation
import MeshGateway
import MeshTestSupport
import Synchronization

/// A server and the gateways and browsers a test joins to it; `Call.run` always ends them,
/// so that a failed test leaves no pipeline or browser running into the next one.
final class Call: Sendable {
    let server: TestServer
    let reports: PageReports
    private let joined = Mutex<[TestGateway]>([])
    private let browsers = Mutex<[Browser]>([])

    private init(server: TestServer, reports: PageReports) {
        self.server = server
        self.reports = reports
    }

    static func run(_ body: (Call) async throws -> Void) async throws {
        let call = Call(server: try await TestServer.start(), reports: try await PageReports.start())
        do {
            try await body(call)
        } catch {
            await call.end()
            throw error
        }
        await call.end()
    }

    func join(_ id: String, record: Bool = true, _ configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> TestGateway {
        let gateway = try await TestGateway.join(server.url, id: id, record: record, configure)
        joined.withLock { $0.append(gateway) }
        return gateway
    }

    /// Opens the browser client served by the call's server, joining as `id` without a click.
    func open(_ kind: Browser.Kind, id: String, name: String? = nil) throws -> Browser {
        try open(kind, id: id, url: "http://127.0.0.1:\(server.port)/?" + Self.query([
            "autojoin": "1", "id": id, "name": name ?? id.capitalized, "report": reports.url(for: id),
        ]))
    }

    /// Opens the test page `fixture` with the call's WebSocket URL, `id` and report URL.
    func open(_ kind: Browser.Kind, id: String, fixture: String) throws -> Browser {
        try open(kind, id: id, url: reports.fixture(fixture) + "?" + Self.query([
            "server": server.url, "id": id, "report": reports.url(for: id),
        ]))
    }

    private func open(_ kind: Browser.Kind, id: String, url: String) throws -> Browser {
        reports.forget(id)
        let browser = try Browser(kind, id: id, url: url, reports: reports)
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
        try? await server.stop()
        await reports.stop()
    }
}
