import MeshProtocol
import Testing
@testable import MeshServer

/// The room rules when rooms span servers, without a network: two servers' switchboards
/// propose, a ledger orders and decides as Redis does, and both apply the result.
@Suite struct ClusteredSwitchboardTests {
    var one = Switchboard(clustered: true), two = Switchboard(clustered: true)
    /// Redis's part: who holds each id of each room.
    var ids: [String: [PeerID: SocketID]] = [:]
    let alice = SocketID(value: 1 << 40 | 1), bob = SocketID(value: 2 << 40 | 1), carol = SocketID(value: 2 << 40 | 2)

    init() {
        one.open(alice, room: "/")
        two.open(bob, room: "/")
        two.open(carol, room: "/")
    }

    /// Orders a server's proposals; returns what each server delivers to its own sockets.
    mutating func order(_ outcome: Switchboard.Outcome) -> [SocketID: [Message]] {
        var delivered: [SocketID: [Message]] = [:]
        func keep(_ outcome: Switchboard.Outcome, ownedBy server: UInt64) {
            for delivery in outcome.deliveries where delivery.to.value >> 40 == server {
                delivered[delivery.to, default: []].append((try? Message.decode(delivery.text)) ?? Message(type: nil))
            }
        }
        keep(outcome, ownedBy: 0)
        for proposal in outcome.proposals {
            switch proposal {
            case .join(let socket, let room, let id, let username):
                if ids[room]?[id] != nil {
                    var server = socket.value >> 40 == 1 ? one : two
                    keep(server.refuseJoin(socket: socket, Switchboard.duplicate(id)), ownedBy: socket.value >> 40)
                    if socket.value >> 40 == 1 { one = server } else { two = server }
                    continue
                }
                ids[room, default: [:]][id] = socket
                keep(one.applyJoin(socket: socket, room: room, id: id, username: username), ownedBy: 1)
                keep(two.applyJoin(socket: socket, room: room, id: id, username: username), ownedBy: 2)
            case .leave(let socket, let room, let id, let reason):
                guard ids[room]?[id] == socket else { continue }
                ids[room]?[id] = nil
                keep(one.applyLeave(socket: socket, room: room, id: id, reason: reason), ownedBy: 1)
                keep(two.applyLeave(socket: socket, room: room, id: id, reason: reason), ownedBy: 2)
            case .relay(let socket, let text):
                keep(one.applyRelay(socket: socket, text: text), ownedBy: 1)
                keep(two.applyRelay(socket: socket, text: text), ownedBy: 2)
            }
        }
        return delivered
    }

    mutating func join(_ socket: SocketID, _ id: String) -> [SocketID: [Message]] {
        let text = Message(type: .newUser, id: id).jsonText()
        return order(socket.value >> 40 == 1 ? one.receive(text, from: socket) : two.receive(text, from: socket))
    }

    @Test mutating func listsIdsRelaysAndDeparturesHoldAcrossServers() throws {
        let first = join(alice, "alice")
        #expect(first[alice]?.first?.type == .connectionList)
        let second = join(bob, "bob")
        // Everyone, on either server, gets the same list.
        #expect(second[alice]?.first?.list == second[bob]?.first?.list)
        #expect(second[alice]?.first?.list?.keys.sorted() == ["alice", "bob"])
        // The id is taken on the other server: refused, and only to the one who asked.
        let taken = join(carol, "alice")
        #expect(taken[carol]?.first?.code == ProtocolError.Code.duplicateID.rawValue, "\(taken)")
        #expect(taken[alice] == nil && taken[bob] == nil)

        let offer = #"{"type":"send_offer","id":"alice","targetId":"bob","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#
        let relayed = order(one.receive(offer, from: alice))
        #expect(relayed[bob]?.count == 1 && relayed[alice] == nil, "\(relayed)")
        let lost = order(one.receive(#"{"type":"send_offer","id":"alice","targetId":"zed"}"#, from: alice))
        #expect(lost[alice]?.first?.code == ProtocolError.Code.unknownTarget.rawValue, "\(lost)")

        // A socket lost on server two: server one's user hears it left.
        let gone = order(two.close(bob))
        #expect(gone[alice]?.first?.type == .restConnectionList && gone[alice]?.first?.list?.keys.sorted() == ["alice"], "\(gone)")
        // And the id is free again, on either server.
        #expect(join(carol, "bob")[alice]?.first?.list?.keys.sorted() == ["alice", "bob"])
    }
}
