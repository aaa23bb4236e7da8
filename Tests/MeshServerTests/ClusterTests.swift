import MeshProtocol
import MeshTestSupport
import Testing

/// `serve --redis`: rooms spread over servers that share a real redis-server on loopback.
/// A client cannot tell from the protocol which server the others are on.
@Suite(.serialized)
struct ClusterTests {
    /// Lists, duplicate ids, targeted relay, broadcast, `close_connection` and a lost socket,
    /// with the users of one room on two servers.
    @Test func theProtocolsRulesHoldAcrossServers() async throws {
        let redis = try await RedisServer.start()
        let one = try await TestServer.start(redis: redis.url)
        let two = try await TestServer.start(redis: redis.url)
        let alice = try await TestClient.join(one.url + "/room/cross", id: "alice")
        let bob = try await TestClient.join(two.url + "/room/cross", id: "bob")
        // Alice, on the other server, gets the same list Bob got.
        let seen = try await alice.next(where: { $0.type == .connectionList })
        #expect(seen.newUserId == "bob" && seen.list?.keys.sorted() == ["alice", "bob"])

        // Alice's id is taken, whichever server one asks.
        let impostor = try await TestClient.connect(two.url + "/room/cross")
        impostor.send(Message(type: .newUser, id: "alice"))
        #expect(try await impostor.next().code == "duplicate_id")
        // Another room is another room, across servers too.
        _ = try await TestClient.join(two.url + "/room/other", id: "alice")

        let offer = #"{"type":"send_offer","id":"alice","targetId":"bob","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#
        alice.send(offer)
        #expect(try await bob.nextText() == offer)
        let candidate = #"{"type":"send_ice_candidate","id":"bob","ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
        bob.send(candidate)
        #expect(try await alice.nextText() == candidate)
        alice.send(#"{"type":"send_offer","id":"alice","targetId":"zed"}"#)
        #expect(try await alice.next().code == "unknown_target")

        // A third user on server one, then Bob leaves with close_connection.
        let carol = try await TestClient.join(one.url + "/room/cross", id: "carol")
        _ = try await bob.next(where: { $0.type == .connectionList && $0.newUserId == "carol" })
        bob.send(Message(type: .closeConnection, id: "bob"))
        for client in [alice, carol] {
            let rest = try await client.next(where: { $0.type == .restConnectionList })
            #expect(rest.list?.keys.sorted() == ["alice", "carol"])
        }
        // Carol's socket dies: Alice hears it, and the id is free again on the other server.
        await carol.close()
        #expect(try await alice.next(where: { $0.type == .restConnectionList }).list?.keys.sorted() == ["alice"])
        let again = try await TestClient.join(two.url + "/room/cross", id: "carol")
        #expect(try await alice.next(where: { $0.type == .connectionList }).list?.keys.sorted() == ["alice", "carol"])
        await again.close()
        try await one.stop()
        try await two.stop()
    }
}
