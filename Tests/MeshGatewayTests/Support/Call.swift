import MeshGateway
import MeshTestSupport
import Synchronization

/// A server and the gateways a test joins to it; `Call.run` always ends them, so that a
/// failed test leaves no pipeline running into the next one.
final class Call: Sendable {
    let server: TestServer
    private let joined = Mutex<[TestGateway]>([])

    private init(server: TestServer) { self.server = server }

    static func run(_ body: (Call) async throws -> Void) async throws {
        let call = Call(server: try await TestServer.start())
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

    private func end() async {
        for gateway in joined.withLock({ $0 }) { try? await gateway.leave() }
        try? await server.stop()
    }
}
