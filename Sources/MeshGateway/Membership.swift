import MeshProtocol

/// This gateway's place in its room, as a pure state machine: registration, the room's
/// lists, who to connect to and who has left. Each input returns what to do; the
/// ``GatewayLoop`` does it. Tested without a server (`MembershipTests`).
struct Membership {
    /// What the loop knows of its peers: for each id it holds a connection for, whether ICE
    /// has a path or is finding one. A connected peer is kept across a signalling drop.
    typealias Peers = [PeerID: Bool]

    enum Input: Equatable {
        /// The signalling socket is open.
        case socketOpened
        case socketLost
        /// `connection_list`: someone registered, perhaps us.
        case connectionList(UserList, newUser: PeerID?)
        /// `rest_connection_list`: someone left.
        case restList(UserList)
        /// `close_connection` from a peer.
        case closeConnection(PeerID)
        /// The server refused something we sent.
        case refused(ProtocolError.Code?, String)
        /// We are leaving the call.
        case leaving
    }

    enum Action: Equatable {
        case send(Message)
        case registered(others: Int)
        case peerJoined(PeerID, name: String)
        /// Connect to this peer as the offerer, replacing any connection we hold to it.
        case offer(PeerID)
        /// A peer we do not connect to: this gateway holds `--max-peers` already.
        case overCapacity(PeerID)
        case remove(PeerID, reason: String)
        /// After a signalling drop: check these peers still have us (``ResyncCheck``).
        case checkStillThere([PeerID])
        /// Send `new_user` again after this pause.
        case registerAgain(after: Duration)
        /// Something retrying cannot fix: the gateway ends with this reason.
        case fail(String)
    }

    let me: PeerID
    let name: String
    let maxPeers: Int
    private(set) var registered = false
    private(set) var everRegistered = false
    /// Ids in the room lists since we last registered. After a reconnect, a peer missing
    /// from the list may just not have reconnected yet; it left only once it was listed.
    private(set) var listedSinceRegistering: Set<PeerID> = []
    /// Who the server's latest room list holds, besides us.
    private(set) var room: Set<PeerID> = []
    /// The names the room's lists gave, by id (the id where a list gave none).
    private(set) var names: [PeerID: String] = [:]

    init(me: PeerID, name: String?, maxPeers: Int) {
        self.me = me
        self.name = name ?? me
        self.maxPeers = maxPeers
    }

    mutating func handle(_ input: Input, peers: Peers) -> [Action] {
        switch input {
        case .socketOpened:
            return [.send(Message(type: .newUser, id: me, username: name))]
        case .socketLost:
            registered = false
            return []
        case .connectionList(let list, let newUser) where newUser == me:
            return registering(list, peers: peers)
        case .connectionList(let list, let newUser):
            noteListed(list, peers: peers)
            guard let newUser else { return [] }
            // The newcomer offers to us; we wait for its offer.
            return [.peerJoined(newUser, name: list[newUser]?.username ?? newUser)]
        case .restList(let list):
            noteListed(list, peers: peers)
            return removals(notIn: list, peers: peers)
        case .closeConnection(let id):
            room.remove(id)
            return id == me || peers[id] == nil ? [] : [.remove(id, reason: "left")]
        case .refused(let code, let text):
            return refused(code, text)
        case .leaving:
            return registered ? [.send(Message(type: .closeConnection, id: me))] : []
        }
    }

    /// Whether one more peer fits under `--max-peers`.
    func admits(_ id: PeerID, peers: Peers) -> Bool {
        peers[id] != nil || peers.count < maxPeers
    }

    private mutating func registering(_ list: UserList, peers: Peers) -> [Action] {
        var actions: [Action] = []
        if everRegistered {
            // Peers that saw our old socket go closed their side: find out which.
            let kept = peers.filter { list[$0.key] != nil && $0.value }.keys.sorted()
            if !kept.isEmpty { actions.append(.checkStillThere(kept)) }
        }
        registered = true
        everRegistered = true
        listedSinceRegistering = Set(list.keys)
        room = Set(list.keys).subtracting([me])
        noteNames(list)
        actions.append(.registered(others: list.keys.filter { $0 != me }.count))
        // As the newcomer we offer to everyone we are not already connected to.
        var holding = peers
        for id in list.keys.sorted() where id != me && holding[id] != true {
            if admits(id, peers: holding) {
                holding[id] = false
                actions.append(.offer(id))
            } else {
                actions.append(.overCapacity(id))
            }
        }
        return actions + removals(notIn: list, peers: holding)
    }

    /// Removes the peers a room list no longer holds, except connected ones that have not
    /// been listed since we registered: they keep their media while they reconnect.
    private func removals(notIn list: UserList, peers: Peers) -> [Action] {
        peers.keys.sorted().filter { id in
            list[id] == nil && (listedSinceRegistering.contains(id) || peers[id] != true)
        }.map { .remove($0, reason: "left") }
    }

    /// Only ids that matter are kept (our peers, the room now): a gateway in a busy room for
    /// months would otherwise keep every id it ever saw.
    private mutating func noteListed(_ list: UserList, peers: Peers) {
        room = Set(list.keys).subtracting([me])
        noteNames(list)
        listedSinceRegistering.formUnion(list.keys)
        listedSinceRegistering.formIntersection(Set(peers.keys).union(list.keys))
    }

    private mutating func noteNames(_ list: UserList) {
        names = list.filter { $0.key != me }.mapValues { $0.username ?? $0.id }
    }

    private func refused(_ code: ProtocolError.Code?, _ text: String) -> [Action] {
        switch code {
        case .unauthorized?:
            return [.fail("the server refused our token: \(text); check ?token= in --server")]
        case .idTooLong?, .invalidID?, .usernameTooLong?, .invalidUsername?, .missingID?:
            return [.fail("the server refused our id or name: \(text); choose another with --id or --name")]
        case .duplicateID? where !registered:
            // After a drop our old socket may still be registered: the server drops it at its next ping.
            return everRegistered ? [.registerAgain(after: .seconds(2))]
                : [.fail("id '\(me)' is already in this call: choose another with --id")]
        case .roomFull? where !registered:
            // Someone took our place while we were away; a place may come free.
            return everRegistered ? [.registerAgain(after: .seconds(5))] : [.fail("the room is full: \(text)")]
        default:
            return []
        }
    }
}
