import MeshProtocol
import Testing
import MeshTestSupport
@testable import MeshServer

/// Bad input gets its error, and the room keeps working for everyone else.
@Suite struct GarbageTests {
    enum Garbage: String, CaseIterable, CustomTestStringConvertible {
        case notJSON, binaryFrame, wrongFieldTypes, arrayFrame, beforeNewUser, missingType, serverOnlyType,
             unknownTarget, secondNewUser, duplicateID

        var testDescription: String { rawValue }

        /// Sends the garbage from a fresh socket (registered as "g" where the case needs it)
        /// and returns the error code the socket must get.
        func send(on socket: TestClient) -> String {
            switch self {
            case .notJSON: socket.send("hello {")
                return "invalid_json"
            case .binaryFrame: socket.sendBinary([0, 1, 2, 255])
                return "binary_frame"
            case .wrongFieldTypes: socket.send(#"{"type":"send_offer","id":"g","targetId":"alice","sdp":"v=0"}"#)
                return "invalid_field"
            case .arrayFrame: socket.send("[1,2,3]")
                return "invalid_json"
            case .beforeNewUser: socket.send(#"{"type":"send_offer","id":"g","targetId":"alice","sdp":{"type":"offer","sdp":"v=0"}}"#)
                return "not_registered"
            case .missingType: socket.send(#"{"id":"g","targetId":"alice"}"#)
                return "missing_type"
            case .serverOnlyType: socket.send(#"{"type":"rest_connection_list","id":"g","list":{}}"#)
                return "reserved_type"
            case .unknownTarget: socket.send(#"{"type":"send_offer","id":"g","targetId":"nobody","sdp":{"type":"offer","sdp":"v=0"}}"#)
                return "unknown_target"
            case .secondNewUser: socket.send(#"{"type":"new_user","id":"g2"}"#)
                return "already_registered"
            case .duplicateID: socket.send(#"{"type":"new_user","id":"alice"}"#)
                return "duplicate_id"
            }
        }

        var registersFirst: Bool {
            switch self {
            case .beforeNewUser, .duplicateID: false
            default: true
            }
        }
    }

    @Test(arguments: Garbage.allCases)
    func garbageGetsItsErrorAndEveryoneElseCarriesOn(_ garbage: Garbage) async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let bob = try await TestClient.join(server.url, id: "bob")
        let socket = garbage.registersFirst ? try await TestClient.join(server.url, id: "g") : try await TestClient.connect(server.url)
        _ = try await alice.next(where: { $0.newUserId == (garbage.registersFirst ? "g" : "bob") })
        if garbage.registersFirst { _ = try await bob.next(where: { $0.newUserId == "g" }) }

        let code = garbage.send(on: socket)
        let error = try await socket.next()
        #expect(error.type == .error)
        #expect(error.code == code)
        #expect(error.message?.isEmpty == false)

        // nothing leaked to the others, and they still talk
        #expect(try await alice.expectNothing(for: .milliseconds(100)).isEmpty)
        bob.send(Message(type: .sendOffer, id: "bob", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await alice.next().id == "bob")
        // the offending socket is still usable too
        if !garbage.registersFirst {
            socket.send(Message(type: .newUser, id: "late"))
            #expect(try await socket.next().newUserId == "late")
        } else {
            socket.send(Message(type: .sendOffer, id: "g", targetId: "bob", sdp: .offer("v=0")))
            #expect(try await bob.next(where: { $0.type == .sendOffer }).id == "g")
        }
        try await server.stop()
    }

    @Test func anOversizedFrameClosesOnlyThatSocketWith1009() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let big = try await TestClient.join(server.url, id: "big")
        _ = try await alice.next(where: { $0.newUserId == "big" })
        big.send(#"{"type":"chat","id":"big","pad":""# + String(repeating: "x", count: 1 << 20) + #""}"#)
        let close = try await big.closedByServer()
        #expect(close?.closeCode == .messageTooLarge)
        // the server treats it as leaving and goes on
        let rest = try await alice.next(where: { $0.type == .restConnectionList })
        #expect(rest.list.map { Array($0.keys) } == ["alice"])
        let bob = try await TestClient.join(server.url, id: "bob")
        bob.send(Message(type: .sendOffer, id: "bob", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await alice.next(where: { $0.type == .sendOffer }).id == "bob")
        try await server.stop()
    }

    @Test func aSocketThatStopsAnsweringPingsIsDroppedAndLeaves() async throws {
        // alice must answer every ping in time too; a second leaves room for a loaded CI machine.
        let server = try await TestServer.start { $0.pingInterval = 1 }
        let alice = try await TestClient.join(server.url, id: "alice")
        // A raw socket registers and then never reads again, so never answers a ping.
        let silent = try RawSocket(port: server.port)
        #expect(silent.upgrade().hasPrefix("HTTP/1.1 101"))
        silent.sendText(#"{"type":"new_user","id":"silent"}"#)
        _ = try await alice.next(where: { $0.newUserId == "silent" })
        let rest = try await alice.next(where: { $0.type == .restConnectionList })
        #expect(rest.list.map { Array($0.keys) } == ["alice"])
        try await server.stop()
    }

    @Test func unknownTypesAreRelayedAndIgnoredAsTheOriginalServerDid() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let bob = try await TestClient.join(server.url, id: "bob")
        _ = try await alice.next(where: { $0.newUserId == "bob" })
        let custom = #"{"type":"mute","id":"bob","targetId":"alice","muted":true}"#
        bob.send(custom)
        #expect(try await alice.nextText() == custom)
        #expect(try await bob.expectNothing(for: .milliseconds(100)).isEmpty)
        try await server.stop()
    }
}
