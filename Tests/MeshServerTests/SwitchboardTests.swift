import MeshProtocol
import Testing
import MeshTestSupport
@testable import MeshServer

/// The room rules without any network.
@Suite struct SwitchboardTests {
    var board = Switchboard()
    let a = SocketID(value: 1), b = SocketID(value: 2), c = SocketID(value: 3)

    init() {
        for socket in [a, b, c] { board.open(socket, room: "/") }
    }

    mutating func join(_ socket: SocketID, _ id: String) -> Switchboard.Outcome {
        board.receive(Message(type: .newUser, id: id, username: id.uppercased()).jsonText(), from: socket)
    }

    func decoded(_ outcome: Switchboard.Outcome) throws -> [(SocketID, Message)] {
        try outcome.deliveries.map { ($0.to, try Message.decode($0.text)) }
    }

    @Test mutating func registrationBroadcastsTheListToEveryoneIncludingTheNewUser() throws {
        _ = join(a, "alice")
        let outcome = join(b, "bob")
        let deliveries = try decoded(outcome)
        #expect(Set(deliveries.map(\.0)) == [a, b])
        for (_, message) in deliveries {
            #expect(message.type == .connectionList)
            #expect(message.newUserId == "bob")
            #expect(message.list == ["alice": User(id: "alice", username: "ALICE"), "bob": User(id: "bob", username: "BOB")])
        }
        #expect(outcome.events.first == .joined(room: "/", id: "bob", username: "BOB"))
    }

    @Test mutating func targetedMessagesReachOnlyTheTargetVerbatim() throws {
        _ = join(a, "alice"); _ = join(b, "bob"); _ = join(c, "carol")
        let text = #"{"type":"send_offer","id":"alice","targetId":"bob","sdp":{"type":"offer","sdp":"v=0\r\n"},"x":1}"#
        #expect(board.receive(text, from: a).deliveries == [.init(to: b, text: text)])
    }

    @Test mutating func untargetedMessagesGoToTheRestOfTheRoom() throws {
        _ = join(a, "alice"); _ = join(b, "bob"); _ = join(c, "carol")
        let text = #"{"type":"chat","id":"alice"}"#
        #expect(Set(board.receive(text, from: a).deliveries.map(\.to)) == [b, c])
    }

    @Test mutating func closeConnectionAndSocketLossBothAnnounceTheRest() throws {
        _ = join(a, "alice"); _ = join(b, "bob"); _ = join(c, "carol")
        let closed = try decoded(board.receive(#"{"type":"close_connection","id":"alice"}"#, from: a))
        #expect(Set(closed.map(\.0)) == [b, c])
        #expect(closed.allSatisfy { $0.1.type == .restConnectionList && $0.1.list.map { Set($0.keys) } == ["bob", "carol"] })

        let lost = try decoded(board.close(b))
        #expect(lost.map(\.0) == [c])
        #expect(lost.first?.1.list.map { Set($0.keys) } == ["carol"])
        #expect(board.list(of: "/").keys.sorted() == ["carol"])
    }

    @Test mutating func duplicateIDsAreRefusedAndTheFirstOwnerKeepsIt() throws {
        _ = join(a, "alice")
        let refused = try decoded(join(b, "alice"))
        #expect(refused.map(\.0) == [b])
        #expect(refused.first?.1.code == "duplicate_id")
        #expect(board.list(of: "/").keys.sorted() == ["alice"])
        // the refused socket may pick another id
        #expect(try decoded(join(b, "bob")).count == 2)
    }

    @Test mutating func aSpoofedIDIsRefused() throws {
        _ = join(a, "alice"); _ = join(b, "bob")
        let outcome = try decoded(board.receive(#"{"type":"send_offer","id":"bob","targetId":"bob"}"#, from: a))
        #expect(outcome.map(\.0) == [a])
        #expect(outcome.first?.1.code == "id_mismatch")
    }

    @Test(arguments: [
        (#"{"type":"send_offer","targetId":"x"}"#, "not_registered"),
        (#"{"id":"a"}"#, "missing_type"),
        (#"{"type":""}"#, "missing_type"),
        (#"{"type":"new_user"}"#, "missing_id"),
        (#"{"type":"new_user","id":""}"#, "missing_id"),
        (#"{"type":"connection_list","list":{}}"#, "reserved_type"),
        ("{", "invalid_json"),
    ])
    mutating func badInputFromAnUnregisteredSocket(text: String, code: String) throws {
        let outcome = try decoded(board.receive(text, from: a))
        #expect(outcome.map(\.0) == [a])
        #expect(outcome.first?.1.code == code)
    }

    @Test mutating func registeredSocketsCannotRegisterTwiceOrTargetStrangers() throws {
        _ = join(a, "alice")
        #expect(try decoded(join(a, "again")).first?.1.code == "already_registered")
        #expect(try decoded(board.receive(#"{"type":"send_offer","id":"alice","targetId":"nobody"}"#, from: a)).first?.1.code == "unknown_target")
        #expect(try decoded(board.receiveBinary(from: a)).first?.1.code == "binary_frame")
    }

    /// A slow consumer is dropped while its reader may still hold frames: what they say gets
    /// no answer and no log line (fuzzing found a binary one answered, to room "?").
    @Test mutating func framesFromAClosedSocketGetNothing() {
        _ = join(a, "alice")
        _ = board.close(a, reason: .slowConsumer)
        #expect(board.receiveBinary(from: a) == Switchboard.Outcome())
        #expect(board.receive(#"{"type":"chat","id":"alice"}"#, from: a) == Switchboard.Outcome())
        #expect(board.close(a) == Switchboard.Outcome())
    }

    @Test mutating func roomsDoNotMix() throws {
        let x = SocketID(value: 9)
        board.open(x, room: "/room/blue")
        _ = join(a, "alice")
        let other = try decoded(join(x, "alice"))
        #expect(other.map(\.0) == [x])
        #expect(other.first?.1.list.map { Array($0.keys) } == ["alice"])
        #expect(try decoded(board.receive(#"{"type":"send_offer","id":"alice","targetId":"bob"}"#, from: x)).first?.1.code == "unknown_target")
        #expect(board.receive(#"{"type":"chat","id":"alice"}"#, from: x).deliveries.isEmpty)
    }
}

@Suite struct RoomPathTests {
    @Test(arguments: [
        ("/", "/"), ("", "/"), ("/room/blue", "/room/blue"), ("/room/blue/", "/room/blue"),
    ])
    func roomsByPath(path: String, room: String) {
        #expect(RoomPath.room(forPath: path) == room)
    }

    @Test(arguments: ["/room", "/room/", "/other", "/room/a/b", "/x/blue"])
    func otherPathsAreNoRoom(path: String) {
        #expect(RoomPath.room(forPath: path) == nil)
    }
}
