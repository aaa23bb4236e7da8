import MeshProtocol
import Testing
import MeshTestSupport
@testable import MeshServer

/// Many clients joining and leaving at once: every view ends up the same.
@Suite struct ChurnTests {
    @Test func hundredClientsJoinAndLeaveConcurrentlyAndAllViewsAgree() async throws {
        let count = 100
        // One room of a hundred, above the default room size: the rule under test is churn.
        let server = try await TestServer.start { $0.maxRoomSize = count }
        let clients = try await withThrowingTaskGroup(of: (Int, TestClient).self) { group in
            for index in 0..<count {
                group.addTask { (index, try await TestClient.join(server.url, id: "u\(index)")) }
            }
            return try await group.reduce(into: [Int: TestClient]()) { $0[$1.0] = $1.1 }
        }
        // Half leave at once, half of those politely, half by dropping the socket.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in stride(from: 0, to: count, by: 2) {
                let client = try #require(clients[index])
                group.addTask {
                    if index % 4 == 0 { client.send(Message(type: .closeConnection, id: "u\(index)")) }
                    await client.close()
                }
            }
            try await group.waitForAll()
        }
        let remaining = Set(stride(from: 1, to: count, by: 2).map { "u\($0)" })
        try await eventually("server to settle") { Set(server.server.list(ofRoom: "/").keys) == remaining ? true : nil }

        // Every remaining client's last list must be the room as it now is.
        for index in stride(from: 1, to: count, by: 2) {
            let client = try #require(clients[index])
            let view = try await eventually("u\(index)'s view") { () -> Set<String>? in
                let lists = client.pending.compactMap { try? Message.decode($0) }.compactMap(\.list)
                guard let last = lists.last, Set(last.keys) == remaining else { return nil }
                return Set(last.keys)
            }
            #expect(view == remaining)
        }
        let newcomer = try await TestClient.connect(server.url)
        newcomer.send(Message(type: .newUser, id: "new"))
        let list = try await newcomer.next().list
        #expect(list.map { Set($0.keys) } == remaining.union(["new"]))
        try await server.stop()
    }
}
