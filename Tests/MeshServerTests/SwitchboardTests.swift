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

/// The limits on what one user may claim.
@Suite struct SwitchboardLimitTests {
    var board = Switchboard(limits: .init(maxIDBytes: 4, maxNameBytes: 6, maxRoomSize: 2))
    let a = SocketID(value: 1), b = SocketID(value: 2), c = SocketID(value: 3)

    init() {
        for socket in [a, b, c] { board.open(socket, room: "/") }
    }

    /// The error code a `new_user` gets, or nil when it registers.
    mutating func refusal(_ socket: SocketID, id: String, username: String? = nil) throws -> String? {
        let outcome = board.receive(Message(type: .newUser, id: id, username: username).jsonText(), from: socket)
        let reply = try Message.decode(try #require(outcome.deliveries.first).text)
        return reply.type == .error ? reply.code : nil
    }

    @Test(arguments: [
        ("abcd", nil, nil), ("abcde", nil, "id_too_long"), ("ééé", nil, "id_too_long"),
        ("ab", "123456", nil), ("ab", "1234567", "username_too_long"), ("ab", "ééé", nil), ("ab", "éééé", "username_too_long"),
        ("a\u{0}", nil, "invalid_id"), ("a\u{1B}", nil, "invalid_id"), ("a\u{7F}", nil, "invalid_id"), ("a\u{85}", nil, "invalid_id"),
        ("ab", "x\ny", "invalid_username"), ("ab", "x\u{9B}", "invalid_username"), ("ab", "ë🎥", nil),
    ] as [(String, String?, String?)])
    mutating func idsAndNamesAreCheckedInBytesAndForControlCharacters(id: String, username: String?, code: String?) throws {
        #expect(try refusal(a, id: id, username: username) == code)
        #expect(board.list(of: "/").isEmpty == (code != nil))
    }

    @Test mutating func aFullRoomRefusesAndTakesAgainOnceSomeoneLeaves() throws {
        #expect(try refusal(a, id: "a") == nil)
        #expect(try refusal(b, id: "b") == nil)
        #expect(try refusal(c, id: "c") == "room_full")
        #expect(board.list(of: "/").keys.sorted() == ["a", "b"])
        _ = board.close(a)
        #expect(try refusal(c, id: "c") == nil)
    }

    @Test mutating func refusalsEchoNoMoreThanAShortPieceOfWhatTheClientSent() throws {
        #expect(try refusal(a, id: "a") == nil)
        let target = String(repeating: "t", count: 60000)
        let outcome = board.receive(Message(type: .sendOffer, id: "a", targetId: target).jsonText(), from: a)
        let error = try Message.decode(try #require(outcome.deliveries.first).text)
        #expect(error.code == "unknown_target")
        #expect((error.message?.utf8.count ?? 0) < 200)
    }
}
