import MeshProtocol
import Testing
@testable import MeshServer

/// The rules of a hub room (`/hub/NAME`) without any network: each user sees and reaches
/// itself and the hub only; the hub sees everyone; the id `hub` is the hub's.
@Suite struct HubRoomTests {
    var board = Switchboard()
    let hub = SocketID(value: 1), a = SocketID(value: 2), b = SocketID(value: 3)
    let room = "/hub/standup"

    init() {
        board.open(hub, room: room, asHub: true)
        for socket in [a, b] { board.open(socket, room: room) }
    }

    mutating func join(_ socket: SocketID, _ id: String) -> Switchboard.Outcome {
        board.receive(Message(type: .newUser, id: id, username: id.uppercased()).jsonText(), from: socket)
    }

    func decoded(_ outcome: Switchboard.Outcome) throws -> [SocketID: Message] {
        Dictionary(uniqueKeysWithValues: try outcome.deliveries.map { ($0.to, try Message.decode($0.text)) })
    }

    @Test mutating func theFirstUserAsksForAHubAndTheHubSeesEveryone() throws {
        let first = join(a, "alice")
        #expect(first.events.contains(.hubRoom(room: room, users: 1, hasHub: false)))
        let hubJoined = try decoded(join(hub, "hub"))
        #expect(Set(hubJoined.keys) == [hub, a])
        #expect(Set(hubJoined[a]?.list?.keys ?? [:].keys) == ["alice", "hub"])
        #expect(Set(hubJoined[hub]?.list?.keys ?? [:].keys) == ["alice", "hub"])
    }

    @Test mutating func aUserSeesOnlyItselfAndTheHubAndOthersAreNotTold() throws {
        _ = join(a, "alice")
        _ = join(hub, "hub")
        let bobJoined = try decoded(join(b, "bob"))
        #expect(Set(bobJoined.keys) == [hub, b], "alice's view did not change: she is not told")
        #expect(Set(bobJoined[b]?.list?.keys ?? [:].keys) == ["bob", "hub"])
        #expect(Set(bobJoined[hub]?.list?.keys ?? [:].keys) == ["alice", "bob", "hub"])
        let left = try decoded(board.close(b))
        #expect(Set(left.keys) == [hub])
        #expect(left[hub]?.type == .restConnectionList)
    }

    @Test mutating func aUserReachesOnlyTheHub() throws {
        _ = join(a, "alice")
        _ = join(hub, "hub")
        _ = join(b, "bob")
        let toBob = try decoded(board.receive(#"{"type":"send_offer","id":"alice","targetId":"bob"}"#, from: a))
        #expect(toBob[a]?.code == "unknown_target")
        #expect(board.receive(#"{"type":"chat","id":"alice"}"#, from: a).deliveries.map(\.to) == [hub])
        #expect(board.receive(#"{"type":"send_offer","id":"alice","targetId":"hub"}"#, from: a).deliveries.map(\.to) == [hub])
        #expect(board.receive(#"{"type":"send_offer","id":"hub","targetId":"bob"}"#, from: hub).deliveries.map(\.to) == [b])
    }

    @Test mutating func onlyTheHubMayBeHub() throws {
        #expect(try decoded(join(a, "hub"))[a]?.code == "reserved_id")
        #expect(try decoded(join(hub, "impostor"))[hub]?.code == "reserved_id")
    }

    @Test mutating func whenTheHubLeavesEveryoneIsToldAndTheRoomAsksForAnother() throws {
        _ = join(a, "alice")
        _ = join(b, "bob")
        _ = join(hub, "hub")
        let gone = board.close(hub)
        #expect(Set(try decoded(gone).keys) == [a, b])
        #expect(gone.events.contains(.hubRoom(room: room, users: 2, hasHub: false)))
        _ = board.close(a)
        #expect(board.close(b).events.contains(.hubRoom(room: room, users: 0, hasHub: false)))
    }
}
