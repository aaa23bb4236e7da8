import Foundation
import Hummingbird
import Logging
import MeshTestSupport
import ServiceLifecycle
import Synchronization

/// A loopback HTTP server that keeps each page's latest report (`POST /report/ID`) and
/// serves the test pages in `Fixtures/` (`GET /fixtures/NAME`).
final class PageReports: Sendable {
    let port: Int
    private let store: Store
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// The latest report body of each page, by id.
    private final class Store: Sendable {
        let latest = Mutex<[String: Data]>([:])
    }

    private init(port: Int, store: Store, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.store = store
        self.group = group
        self.task = task
    }

    static func start() async throws -> PageReports {
        let store = Store()
        let router = Router()
        router.post("/report/:id") { request, context in
            let id = try context.parameters.require("id")
            let body = try await request.body.collect(upTo: 1 << 22)
            store.latest.withLock { $0[id] = Data(buffer: body) }
            return HTTPResponse.Status.noContent
        }
        router.get("/fixtures/:name") { _, context in
            let name = try context.parameters.require("name")
            guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
                throw HTTPError(.notFound)
            }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try Data(contentsOf: url))))
        }
        var logger = Logger(label: "test.reports")
        logger.logLevel = .warning
        let bound = Mutex<Int?>(nil)
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.withLock { $0 = channel.localAddress?.port } },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let task = Task { try await group.run() }
        let port = try await eventually("the report server to listen") { bound.withLock { $0 } }
        return PageReports(port: port, store: store, group: group, task: task)
    }

    /// The URL a page with id `id` posts its reports to.
    func url(for id: String) -> String { "http://127.0.0.1:\(port)/report/\(id)" }

    func fixture(_ name: String) -> String { "http://127.0.0.1:\(port)/fixtures/\(name)" }

    func latest(from id: String) -> BrowserReport? {
        guard let data = store.latest.withLock({ $0[id] }) else { return nil }
        return try? JSONDecoder().decode(BrowserReport.self, from: data)
    }

    func latestText(from id: String) -> String? {
        store.latest.withLock { $0[id] }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Forgets what `id` reported, so that a page opened again starts from nothing.
    func forget(_ id: String) {
        _ = store.latest.withLock { $0.removeValue(forKey: id) }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        try? await task.value
    }
}
