import MeshProtocol
import Testing
import MeshTestSupport
@testable import MeshServer

/// PROTOCOL.md's rules against the real server over real WebSockets.
@Suite struct RelayTests {
    @Test func registrationAnnouncesTheListToEveryoneIncludingTheSender() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice", username: "Alice")
        let bob = try await TestClient.connect(server.url)
        bob.send(#"{"type":"new_user","id":"bob","username":"Bob"}"#)
        for client in [alice, bob] {
            let list = try await client.next()
            #expect(list.type == .connectionList)
            #expect(list.newUserId == "bob")
            #expect(list.list == ["alice": User(id: "alice", username: "Alice"), "bob": User(id: "bob", username: "Bob")])
        }
        try await server.stop()
    }

    @Test func offerAnswerAndCandidatesAreRelayedVerbatimToTheTargetOnly() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let bob = try await TestClient.join(server.url, id: "bob")
        let carol = try await TestClient.join(server.url, id: "carol")
        _ = try await alice.next(where: { $0.newUserId == "carol" })
        _ = try await bob.next(where: { $0.newUserId == "carol" })

        // Exactly what a browser's JSON.stringify produces, field order and unknown fields included.
        let offer = #"{"id":"carol","targetId":"alice","username":"carol","type":"send_offer","sdp":{"type":"offer","sdp":"v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\n"},"x-extra":true}"#
        let answer = #"{"id":"alice","targetId":"carol","username":"alice","type":"send_aswer","sdp":{"type":"answer","sdp":"v=0\r\n"}}"#
        let candidate = #"{"id":"carol","targetId":"alice","username":"carol","type":"new_candidate","ice":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":null,"sdpMLineIndex":0,"usernameFragment":null}}"#
        carol.send(offer)
        #expect(try await alice.nextText() == offer)
        alice.send(answer)
        #expect(try await carol.nextText() == answer)
        carol.send(candidate)
        #expect(try await alice.nextText() == candidate)
        #expect(try await bob.expectNothing().isEmpty)
        try await server.stop()
    }

    @Test func untargetedMessagesAreBroadcastToTheRestOfTheRoom() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let bob = try await TestClient.join(server.url, id: "bob")
        _ = try await alice.next(where: { $0.newUserId == "bob" })
        let chat = #"{"type":"chat","id":"alice","text":"hello"}"#
        alice.send(chat)
        #expect(try await bob.nextText() == chat)
        #expect(try await alice.expectNothing().isEmpty)
        try await server.stop()
    }

    @Test func closeConnectionAndSocketLossBothProduceTheRestList() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let bob = try await TestClient.join(server.url, id: "bob")
        let carol = try await TestClient.join(server.url, id: "carol")
        _ = try await alice.next(where: { $0.newUserId == "carol" })

        bob.send(#"{"type":"close_connection","id":"bob"}"#)
        for client in [alice, carol] {
            let rest = try await client.next(where: { $0.type == .restConnectionList })
            #expect(rest.list.map { Set($0.keys) } == ["alice", "carol"])
        }
        await carol.close() // no close_connection: the socket just goes
        let rest = try await alice.next(where: { $0.type == .restConnectionList })
        #expect(rest.list.map { Set($0.keys) } == ["alice"])
        #expect(server.server.list(ofRoom: "/").keys.sorted() == ["alice"])
        try await server.stop()
    }

    @Test func aDuplicateIDIsRefusedAndTheFirstSocketKeepsIt() async throws {
        let server = try await TestServer.start()
        let first = try await TestClient.join(server.url, id: "alice")
        let second = try await TestClient.connect(server.url)
        second.send(Message(type: .newUser, id: "alice"))
        #expect(try await second.next().code == "duplicate_id")
        #expect(try await first.expectNothing().isEmpty)
        // the first socket is still alice: it can still be reached
        let bob = try await TestClient.join(server.url, id: "bob")
        bob.send(Message(type: .sendOffer, id: "bob", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await first.next(where: { $0.type == .sendOffer }).id == "bob")
        try await server.stop()
    }

    @Test func aSpoofedIDIsRefusedAndNotRelayed() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let mallory = try await TestClient.join(server.url, id: "mallory")
        _ = try await alice.next(where: { $0.newUserId == "mallory" })
        mallory.send(Message(type: .sendOffer, id: "bob", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await mallory.next().code == "id_mismatch")
        mallory.send(Message(type: .closeConnection, id: "alice"))
        #expect(try await mallory.next().code == "id_mismatch")
        #expect(try await alice.expectNothing().isEmpty)
        #expect(server.server.list(ofRoom: "/").keys.sorted() == ["alice", "mallory"])
        try await server.stop()
    }

    @Test func roomsByPathNeverMix() async throws {
        let server = try await TestServer.start()
        let lobby = try await TestClient.join(server.url + "/", id: "alice")
        let blue = try await TestClient.join(server.url + "/room/blue", id: "alice")
        let blueBob = try await TestClient.join(server.url + "/room/blue", id: "bob")
        let list = try await blue.next(where: { $0.newUserId == "bob" }).list
        #expect(list.map { Set($0.keys) } == ["alice", "bob"])
        blueBob.send(#"{"type":"chat","id":"bob"}"#)
        _ = try await blue.next(where: { $0.type == MessageType(rawValue: "chat") })
        #expect(try await lobby.expectNothing().isEmpty)
        #expect(server.server.list(ofRoom: "/").keys.sorted() == ["alice"])
        #expect(server.server.list(ofRoom: "/room/blue").keys.sorted() == ["alice", "bob"])
        try await server.stop()
    }
}
