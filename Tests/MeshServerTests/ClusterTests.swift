import MeshProtocol
import MeshTestSupport
import Redis
import Testing

/// `serve --redis`: rooms spread over servers that share a real redis-server on loopback.
/// A client cannot tell from the protocol which server the others are on.
@Suite(.serialized)
struct ClusterTests {
    /// Lists, duplicate ids, targeted relay, broadcast, `close_connection` and a lost socket,
    /// with the users of one room on two servers; the same over TLS to Redis (`rediss://`).
    @Test(arguments: [false, true])
    func theProtocolsRulesHoldAcrossServers(tls: Bool) async throws {
        let redis = try await RedisServer.start(tls: tls ? TestAuthority.make() : nil)
        let one = try await TestServer.start(redis: redis)
        let two = try await TestServer.start(redis: redis)
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

    /// Redis dies: each server goes on relaying between its own users, and says why it
    /// cannot reach the others or register anyone; Redis comes back empty, as after a
    /// restart, and within seconds every list agrees again and joins work across servers;
    /// the same over TLS.
    @Test(arguments: [false, true])
    func theServersOutliveRedisAndAgreeAgainWhenItIsBack(tls: Bool) async throws {
        let redis = try await RedisServer.start(tls: tls ? TestAuthority.make() : nil)
        let one = try await TestServer.start(redis: redis)
        let two = try await TestServer.start(redis: redis)
        let room = "/room/outage"
        let alice = try await TestClient.join(one.url + room, id: "alice")
        let bob = try await TestClient.join(two.url + room, id: "bob")
        let carol = try await TestClient.join(one.url + room, id: "carol")
        for client in [alice, bob] { _ = try await client.next(where: { $0.type == .connectionList && $0.newUserId == "carol" }) }

        redis.stop()
        let local = #"{"type":"send_offer","id":"alice","targetId":"carol","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#
        alice.send(local)
        #expect(try await carol.nextText() == local)
        alice.send(#"{"type":"send_offer","id":"alice","targetId":"bob","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#)
        let unreachable = try await alice.next()
        #expect(unreachable.code == "unavailable" && unreachable.message?.contains("'bob' is on another server") == true, "\(unreachable)")
        let late = try await TestClient.connect(one.url + room)
        late.send(Message(type: .newUser, id: "dave"))
        #expect(try await late.next().code == "unavailable")
        // A departure on this server is announced here at once.
        await carol.close()
        #expect(try await alice.next(where: { $0.type == .restConnectionList }).list?.keys.sorted() == ["alice", "bob"])

        try await redis.start()
        // Bob, on the other server, learns Carol left; then a join reaches everyone again.
        let rest = try await bob.next(where: { $0.type == .restConnectionList }, within: .seconds(10))
        #expect(rest.list?.keys.sorted() == ["alice", "bob"])
        let dave = try await TestClient.connect(two.url + room)
        let joined = try await eventually("a join to work again", within: .seconds(10)) { () async throws -> Message? in
            dave.send(Message(type: .newUser, id: "dave"))
            let answer = try await dave.next()
            if answer.code == "unavailable" { try await Task.sleep(for: .milliseconds(300)) }
            return answer.code == "unavailable" ? nil : answer
        }
        #expect(joined.type == .connectionList, "\(joined)")
        for client in [alice, bob] {
            let list = try await client.next(where: { $0.type == .connectionList && $0.newUserId == "dave" })
            #expect(list.list?.keys.sorted() == ["alice", "bob", "dave"])
        }
        await dave.close()
        try await one.stop()
        try await two.stop()
    }

    /// A server that missed changes in the log (it fell so far behind that Redis trimmed them
    /// away) finds a change's number skipped and reads the rooms afresh: its users then see
    /// who joined meanwhile. Here the lost entry is made by hand: a member written into the
    /// room as a join on a third server would, the count of changes moved past it, its log
    /// entry gone.
    @Test func aServerThatMissedChangesInTheLogReadsTheRoomsAfresh() async throws {
        let redis = try await RedisServer.start()
        let one = try await TestServer.start(redis: redis)
        let two = try await TestServer.start(redis: redis)
        let alice = try await TestClient.join(one.url + "/room/gap", id: "alice")
        let direct = try RedisConnection(try redis.address)
        let ghost = String(UInt64(999) << 40 | 1) + "\nGhost"
        #expect(try direct.run(["HSET", "meshgate:room:/room/gap", "ghost", ghost]) == .integer(1))
        _ = try direct.run(["INCR", "meshgate:log:changes"])
        // The next change, a join on the other server, carries a number one past the last seen.
        // Both servers read the rooms afresh: Bob's own join, in the entries they skipped, is
        // done all the same, and everyone sees Ghost.
        let bob = try await TestClient.join(two.url + "/room/gap", id: "bob")
        for client in [alice, bob] {
            let list = try await client.next(where: { $0.type == .connectionList && $0.list?.keys.sorted() == ["alice", "bob", "ghost"] })
            #expect(list.list?["ghost"]?.username == "Ghost")
        }
        try await one.stop()
        try await two.stop()
    }
}
