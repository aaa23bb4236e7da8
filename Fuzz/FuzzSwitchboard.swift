import MeshProtocol

/// libFuzzer target `switchboard`: the room rules driven by a byte stream of socket steps.
///
/// Each step is one byte: its low 3 bits pick the operation (0 open, 1 close, 2 a binary
/// frame, 3 raw text, 4 `new_user`, 5 a frame to relay, 6 `close_connection`, 7 a type the
/// server refuses), the next 2 one of four socket slots, the top 3 a choice within the
/// operation (room, id, type); a relayed frame reads one more byte for its id and target,
/// and raw text a length and that many bytes. After every step the
/// outcome is checked against a shadow of who is registered where, which the harness keeps
/// from the events alone.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSwitchboard(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzBytes(UnsafeBufferPointer(start: data, count: size))
    var run = SwitchboardRun()
    while let step = input.next() { run.step(step, &input) }
    return 0
}

struct SwitchboardRun {
    /// Two mesh rooms and a hub room, where users see and reach only themselves and the hub.
    static let rooms = ["/", "/room/b", "/hub/c"]
    /// Few ids, so that registrations collide and targets exist; "", one over the id limit and
    /// one with a control character are refused; "hub" is the hub's alone in a hub room.
    static let ids: [PeerID?] = ["alice", "bob", "hub", "", nil, "a-long-id", "bo\u{1B}b"]
    /// Small limits, so that fuzzing meets them: ids of 8 bytes, names of 4, rooms of 3.
    static let limits = Switchboard.Limits(maxIDBytes: 8, maxNameBytes: 4, maxRoomSize: 3)
    static let types: [MessageType] = [.sendOffer, .sendAnswer, .newCandidate, MessageType(rawValue: "chat")]
    static let refusedTypes: [MessageType] = [.connectionList, .restConnectionList, .error, MessageType(rawValue: "")]

    var board = Switchboard(limits: Self.limits)
    /// The socket each slot holds now or held last; a closed one may still send, as the hub
    /// passes on frames its reader had before the close (a slow consumer's, for one).
    var slots: [SocketID?] = [nil, nil, nil, nil]
    var nextSocket: UInt64 = 1
    /// The shadow: the room of every open socket, and the user each registered socket holds.
    var roomOf: [SocketID: String] = [:]
    var userOf: [SocketID: PeerID] = [:]
    /// Sockets opened as a hub room's own hub participant (the server's in-memory one).
    var hubSockets: Set<SocketID> = []

    mutating func step(_ byte: UInt8, _ input: inout FuzzBytes) {
        let slot = Int(byte >> 3) % slots.count
        let choice = Int(byte >> 5)
        if byte % 8 == 0 {
            guard slots[slot].map({ roomOf[$0] == nil }) ?? true else { return }
            // The hub never reuses an id.
            let socket = SocketID(value: nextSocket)
            nextSocket += 1
            slots[slot] = socket
            let room = Self.rooms[choice % Self.rooms.count]
            let asHub = Switchboard.isHub(room) && choice >= 4
            board.open(socket, room: room, asHub: asHub)
            roomOf[socket] = room
            if asHub { hubSockets.insert(socket) }
            checkRooms()
            return
        }
        guard let socket = slots[slot] else { return }
        let wasOpen = roomOf[socket] != nil
        switch byte % 8 {
        case 1:
            let outcome = board.close(socket, reason: choice % 2 == 0 ? .socketClosed : .slowConsumer)
            check(outcome, from: socket, text: nil)
            expect(!wasOpen || userOf[socket] == nil, "\(socket) closed but its user stayed")
            roomOf[socket] = nil
            checkRooms()
            return
        case 2:
            let outcome = board.receiveBinary(from: socket)
            check(outcome, from: socket, text: nil)
            return
        case 3:
            let count = Int(input.next() ?? 0)
            send(String(decoding: input.take(count), as: UTF8.self), from: socket)
        case 4:
            let username: String? = choice > 5 ? "Ulrike" : choice > 3 ? "U" : nil
            send(Message(type: .newUser, id: Self.ids[choice % Self.ids.count], username: username).jsonText(), from: socket)
        case 5:
            let argument = Int(input.next() ?? 0)
            let message = Message(
                type: Self.types[choice % Self.types.count], id: id(argument % 6, of: socket),
                targetId: Self.ids[argument / 6 % Self.ids.count], sdp: .offer("v=0\r\n")
            )
            send(message.jsonText(), from: socket)
        case 6:
            send(Message(type: .closeConnection, id: id(choice % 6, of: socket)).jsonText(), from: socket)
        default:
            send(Message(type: Self.refusedTypes[choice % Self.refusedTypes.count], id: id(choice, of: socket)).jsonText(), from: socket)
        }
        // No frame opens or closes a socket, whatever it says.
        expect((roomOf[socket] != nil) == wasOpen)
    }

    /// Mostly the socket's own id, so that frames get past the id check.
    func id(_ choice: Int, of socket: SocketID) -> PeerID? {
        choice < Self.ids.count ? Self.ids[choice] : userOf[socket]
    }

    mutating func send(_ text: String, from socket: SocketID) {
        check(board.receive(text, from: socket), from: socket, text: text)
    }

    /// Checks one step's outcome against the shadow, and moves the shadow on by its events.
    mutating func check(_ outcome: Switchboard.Outcome, from socket: SocketID, text: String?) {
        for delivery in outcome.deliveries {
            expect(roomOf[delivery.to] != nil, "a delivery to \(delivery.to), which is not open: \(outcome)")
        }
        // One event a step, and in a hub room a join or a leave also says what the hub needs.
        var events = outcome.events
        var hubRoom: (room: String, users: Int, hasHub: Bool)?
        if case .hubRoom(let room, let users, let hasHub)? = events.last, events.count == 2 {
            events.removeLast()
            hubRoom = (room, users, hasHub)
        }
        defer {
            // Checked against the shadow once the step's own event has moved it on.
            if let hubRoom {
                expect(Switchboard.isHub(hubRoom.room), "a hub room's event for \(hubRoom.room), which is no hub room: \(outcome)")
                let members = userOf.filter { roomOf[$0.key] == hubRoom.room }.values
                expect(hubRoom.users == members.count { $0 != Switchboard.hubID } && hubRoom.hasHub == members.contains(Switchboard.hubID),
                       "hub room \(hubRoom.room) said \(hubRoom.users) users, hub \(hubRoom.hasHub): \(outcome)")
            }
        }
        expect(events.count <= 1, "one step, one event: \(outcome)")
        guard let event = events.first else {
            expect(outcome.deliveries.isEmpty, "deliveries without an event: \(outcome)")
            return
        }
        switch event {
        case .joined(let room, let id, _):
            expect(roomOf[socket] == room && userOf[socket] == nil, "\(socket) joined \(room) as \(id) twice or elsewhere")
            expect(!userOf.contains { roomOf[$0.key] == room && $0.value == id }, "\(id) joined \(room) twice")
            expect(!Switchboard.isHub(room) || (id == Switchboard.hubID) == hubSockets.contains(socket),
                   "\(socket) joined hub room \(room) as \(id)")
            userOf[socket] = id
            expectBroadcast(outcome, in: room, type: .connectionList, changedFor: id)
        case .left(let room, let id, _):
            expect(roomOf[socket] == room && userOf[socket] == id, "\(socket) left as \(id), which it was not")
            userOf[socket] = nil
            expectBroadcast(outcome, in: room, type: .restConnectionList, changedFor: id)
        case .refused(let refused, _, _, _, let error):
            expect(refused == socket, "a refusal of \(refused) for a frame of \(socket)")
            expect(outcome.deliveries.map(\.to) == [socket], "a refusal goes to its sender only: \(outcome)")
            let frame = outcome.deliveries.first.flatMap { try? Message.decode($0.text) }
            expect(frame?.type == .error && frame?.code == error.code.rawValue, "refusal frame: \(outcome)")
        case .relayed(let room, let from, let to, _):
            expect(roomOf[socket] == room && userOf[socket] == from, "\(socket) relayed as \(from), which it is not")
            // With a target, whoever holds it (the sender too); without, the rest of the room;
            // in a hub room, of those the sender reaches.
            let expected = userOf.filter { other, user in
                roomOf[other] == room && reaches(from, user, in: room) && (to.map { $0 == user } ?? (other != socket))
            }
            expect(to == nil || expected.count == 1, "a target in \(room) is one socket")
            expect(outcome.deliveries.map(\.to).sorted { $0.value < $1.value } == expected.keys.sorted { $0.value < $1.value },
                         "relay from \(from) to \(to ?? "*") reached the wrong sockets: \(outcome)")
            expect(outcome.deliveries.allSatisfy { $0.text == text }, "relayed text changed: \(outcome)")
        case .hubRoom(let room, _, _):
            expect(false, "a hub room's event for \(room) on its own: \(outcome)")
        }
        checkRooms()
    }

    /// Whether `user` sees and reaches `other`: anyone, except in a hub room, where a user
    /// has only itself and the hub, and the hub everyone.
    func reaches(_ user: PeerID, _ other: PeerID, in room: String) -> Bool {
        !Switchboard.isHub(room) || user == Switchboard.hubID || other == user || other == Switchboard.hubID
    }

    /// A room list to every user whose view `who` joining or leaving changed, saying who is
    /// in the room as that user sees it.
    func expectBroadcast(_ outcome: Switchboard.Outcome, in room: String, type: MessageType, changedFor who: PeerID) {
        let members = userOf.filter { roomOf[$0.key] == room && reaches(who, $0.value, in: room) }
        expect(Set(outcome.deliveries.map(\.to)) == Set(members.keys) && outcome.deliveries.count == members.count,
                     "\(type) must reach \(room) exactly: \(outcome)")
        for delivery in outcome.deliveries {
            let frame = try? Message.decode(delivery.text)
            let viewer = userOf[delivery.to] ?? ""
            let view = board.list(of: room).filter { reaches(viewer, $0.key, in: room) }
            expect(frame?.type == type && frame?.list == view, "\(type) frame: \(delivery.text)")
        }
    }

    /// Every registered user is in exactly one open socket's room, and each room's list is
    /// exactly the users whose sockets are in it.
    func checkRooms() {
        expect(userOf.keys.allSatisfy { roomOf[$0] != nil }, "a user on a closed socket: \(userOf)")
        for room in Self.rooms {
            let users = userOf.filter { roomOf[$0.key] == room }.values.sorted()
            let list = board.list(of: room)
            expect(list.keys.sorted() == users, "room \(room) lists \(list.keys.sorted()), its sockets hold \(users)")
            expect(list.allSatisfy { $0.key == $0.value.id }, "list entries keyed by another id: \(list)")
            expect(list.count <= Self.limits.maxRoomSize, "room \(room) holds \(list.count), over its limit")
            for user in list.values {
                expect(user.id.utf8.count <= Self.limits.maxIDBytes && (user.username?.utf8.count ?? 0) <= Self.limits.maxNameBytes,
                       "\(user) is over the limits")
                expect(!user.id.unicodeScalars.contains { $0.value < 0x20 }, "an id with a control character registered")
            }
        }
    }
}
