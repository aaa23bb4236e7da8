import MeshProtocol
import Testing
import MeshTestSupport
@testable import MeshServer

/// Which paths are rooms, and which room each is, as the server routes them.
@Suite struct RoomPathTests {
    @Test(arguments: [("/", "/"), ("/room/blue", "/room/blue"), ("/room/blue/", "/room/blue"), ("/?token=x", "/")])
    func aRoomPathUpgradesIntoItsRoom(path: String, room: String) async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url + path, id: "alice")
        #expect(server.server.list(ofRoom: room).keys.sorted() == ["alice"])
        await alice.close()
        try await server.stop()
    }

    @Test(arguments: ["/room", "/room/", "/other", "/room/a/b", "/x/blue", "/room/" + String(repeating: "n", count: 129)])
    func anyOtherPathIsNotUpgraded(path: String) async throws {
        let server = try await TestServer.start()
        let head = try RawSocket(port: server.port).upgrade(path: path)
        #expect(head.hasPrefix("HTTP/1.1 4"), "\(path): \(head)")
        try await server.stop()
    }

    @Test func aNameOfAtMost128BytesNamesARoom() {
        #expect(RoomPath.room(named: nil, prefix: nil) == "/")
        #expect(RoomPath.room(named: "blue", prefix: "/room/") == "/room/blue")
        #expect(RoomPath.room(named: "blue", prefix: RoomPath.hubPrefix) == "/hub/blue")
        #expect(Switchboard.isHub("/hub/blue") && !Switchboard.isHub("/room/blue") && !Switchboard.isHub("/"))
        #expect(RoomPath.room(named: String(repeating: "é", count: 64), prefix: "/room/") == "/room/" + String(repeating: "é", count: 64))
        #expect(RoomPath.room(named: String(repeating: "n", count: 129), prefix: "/room/") == nil)
    }
}
