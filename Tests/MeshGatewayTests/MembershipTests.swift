@testable import MeshGateway
import MeshProtocol
import Testing

/// Registration and the room's lists, without a server: each row is a sequence of inputs
/// (with the peers the loop holds at each) and the actions the last one gives.
struct MembershipTests {
    typealias Input = Membership.Input
    typealias Action = Membership.Action

    static func list(_ ids: String...) -> UserList {
        Dictionary(uniqueKeysWithValues: ids.map { ($0, User(id: $0, username: $0.uppercased())) })
    }

    /// Registers "me" in a room of `ids` as a first join, with no peers held.
    static func joined(_ ids: String...) -> (Input, Membership.Peers) {
        (.connectionList(Dictionary(uniqueKeysWithValues: (ids + ["me"]).map { ($0, User(id: $0, username: $0.uppercased())) }), newUser: "me"), [:])
    }

    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        /// Each input with the peers the loop holds then (id: connected or connecting).
        let steps: [(Input, Membership.Peers)]
        let last: [Action]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "an open socket sends new_user", steps: [(.socketOpened, [:])],
            last: [.send(Message(type: .newUser, id: "me", username: "Me"))]),
        Row(name: "the first list offers to everyone, in order", steps: [joined("b", "a")],
            last: [.registered(others: 2), .offer("a"), .offer("b")]),
        Row(name: "registering again after a drop keeps connected peers, checks them, offers to the rest", steps: [
            joined("a", "b"),
            (.socketLost, ["a": true, "b": false]),
            (.socketOpened, ["a": true, "b": false]),
            (.connectionList(list("a", "b", "me"), newUser: "me"), ["a": true, "b": false]),
        ], last: [.checkStillThere(["a"]), .registered(others: 2), .offer("b")]),
        Row(name: "server restart: a connected peer not yet back is kept", steps: [
            joined("a", "b"),
            (.socketLost, ["a": true, "b": true]),
            (.connectionList(list("me", "b"), newUser: "me"), ["a": true, "b": true]),
        ], last: [.checkStillThere(["b"]), .registered(others: 1)]),
        Row(name: "server restart: a peer that never connected and is not listed is removed", steps: [
            joined("a", "b"),
            (.socketLost, ["a": false, "b": true]),
            (.connectionList(list("me", "b"), newUser: "me"), ["a": false, "b": true]),
        ], last: [.checkStillThere(["b"]), .registered(others: 1), .remove("a", reason: "left")]),
        Row(name: "server restart: a kept peer that was listed and then is not has left", steps: [
            joined("a", "b"),
            (.socketLost, ["a": true, "b": true]),
            (.connectionList(list("me", "b"), newUser: "me"), ["a": true, "b": true]),
            (.connectionList(list("me", "b", "a"), newUser: "a"), ["a": true, "b": true]),
            (.restList(list("me", "b")), ["a": true, "b": true]),
        ], last: [.remove("a", reason: "left")]),
        Row(name: "a newcomer is announced; it offers, we wait", steps: [
            joined("a"), (.connectionList(list("me", "a", "n"), newUser: "n"), ["a": true]),
        ], last: [.peerJoined("n", name: "N")]),
        Row(name: "rest_connection_list removes who is gone", steps: [
            joined("a", "b"), (.restList(list("me", "b")), ["a": true, "b": true]),
        ], last: [.remove("a", reason: "left")]),
        Row(name: "close_connection removes that peer", steps: [
            joined("a"), (.closeConnection("a"), ["a": true]),
        ], last: [.remove("a", reason: "left")]),
        Row(name: "close_connection of someone we hold nothing for does nothing", steps: [
            joined("a"), (.closeConnection("x"), ["a": true]),
        ], last: []),
        Row(name: "a peer that left and came back with the same id is a newcomer again", steps: [
            joined("a"),
            (.closeConnection("a"), ["a": true]),
            (.restList(list("me")), [:]),
            (.connectionList(list("me", "a"), newUser: "a"), [:]),
        ], last: [.peerJoined("a", name: "A")]),
        Row(name: "over --max-peers, the rest are not connected", steps: [joined("a", "b", "c")],
            last: [.registered(others: 3), .offer("a"), .offer("b"), .overCapacity("c")]),
        Row(name: "a refused token ends the gateway", steps: [(.refused(.unauthorized, "no"), [:])],
            last: [.fail("the server refused our token: no; check ?token= in --server")]),
        Row(name: "a duplicate id on first join ends the gateway", steps: [(.refused(.duplicateID, "taken"), [:])],
            last: [.fail("id 'me' is already in this call: choose another with --id")]),
        Row(name: "a duplicate id after a drop is our old socket: register again", steps: [
            joined(), (.socketLost, [:]), (.refused(.duplicateID, "taken"), [:]),
        ], last: [.registerAgain(after: .seconds(2))]),
        Row(name: "a full room after a drop: wait for a place", steps: [
            joined(), (.socketLost, [:]), (.refused(.roomFull, "full"), [:]),
        ], last: [.registerAgain(after: .seconds(5))]),
        Row(name: "a full room on first join ends the gateway", steps: [(.refused(.roomFull, "full"), [:])],
            last: [.fail("the room is full: full")]),
        Row(name: "a refusal of one relayed message changes nothing", steps: [joined(), (.refused(.rateLimited, "slow"), [:])], last: []),
        Row(name: "leaving says so when registered", steps: [joined(), (.leaving, [:])],
            last: [.send(Message(type: .closeConnection, id: "me"))]),
        Row(name: "leaving while unregistered sends nothing", steps: [joined(), (.socketLost, [:]), (.leaving, [:])], last: []),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        var membership = Membership(me: "me", name: "Me", maxPeers: 2)
        var last: [Action] = []
        for (input, peers) in row.steps { last = membership.handle(input, peers: peers) }
        #expect(last == row.last)
    }

    @Test func listedIdsAreBoundedToPeersAndTheRoom() {
        var membership = Membership(me: "me", name: nil, maxPeers: 8)
        _ = membership.handle(.connectionList(Self.list("me"), newUser: "me"), peers: [:])
        for index in 0..<100 {
            _ = membership.handle(.connectionList(Self.list("me", "guest\(index)"), newUser: "guest\(index)"), peers: [:])
            _ = membership.handle(.restList(Self.list("me")), peers: [:])
        }
        #expect(membership.listedSinceRegistering == ["me"])
    }

    @Test func capacityCountsPeersHeld() {
        let membership = Membership(me: "me", name: nil, maxPeers: 1)
        #expect(membership.admits("a", peers: [:]))
        #expect(membership.admits("a", peers: ["a": true]))
        #expect(!membership.admits("b", peers: ["a": true]))
    }
}
