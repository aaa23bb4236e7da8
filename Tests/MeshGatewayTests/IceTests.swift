import MeshProtocol
import MeshTestSupport
import Testing

/// `--ice-address` and `--ice-ports`, as a peer sees them: in the candidates the gateway trickles.
@Suite(.serialized)
struct IceTests {
    @Test func candidatesUseOnlyTheGivenAddressAndPorts() async throws {
        try await Call.run { call in
            // A bare protocol client in the room: the gateway, joining after it, offers to it.
            let watcher = try await TestClient.join(call.server.url, id: "watcher")
            _ = try await call.join("gateway", record: false) { $0.icePorts = 47000...47009 }
            _ = try await watcher.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            var candidates: [String] = []
            while let message = try? await watcher.next(where: { $0.type == .newCandidate }, within: .seconds(2)) {
                candidates.append(message.ice?.candidate ?? "")
            }
            #expect(candidates.contains { $0.uppercased().contains(" UDP ") }, "\(candidates)")
            for candidate in candidates {
                // candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ...
                let fields = candidate.split(separator: " ").map(String.init)
                try #require(fields.count >= 8, "\(candidate)")
                #expect(fields[4] == "127.0.0.1", "\(candidate)")
                // ICE-TCP's active candidates carry the placeholder port 9.
                if fields[2].uppercased() == "UDP" {
                    #expect((47000...47009).contains(Int(fields[5]) ?? 0), "\(candidate)")
                }
            }
            await watcher.close()
        }
    }
}
