import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// A gateway that joins a big room sends an offer and candidates to everyone at once: it must
/// pace them under the server's default rate limit, or the server refuses frames and at last
/// closes its socket.
@Suite(.serialized)
struct BigRoomTests {
    @Test func aGatewayJoiningABigRoomStaysUnderTheServersRateLimit() async throws {
        try await Call.run { call in
            var clients: [TestClient] = []
            for index in 0..<60 { clients.append(try await TestClient.join(call.url, id: String(format: "member-%02d", index))) }
            let gateway = try await call.join("gateway", record: false) { $0.maxPeers = 60 }
            for client in clients {
                _ = try await client.next(where: { $0.type == .sendOffer }, within: .seconds(30))
                _ = try await client.next(where: { $0.type == .newCandidate }, within: .seconds(30))
            }
            #expect(try await gateway.snapshot().registered)
            #expect(try await gateway.snapshot().peers.count == 60)
            for client in clients { await client.close() }
        }
    }
}
