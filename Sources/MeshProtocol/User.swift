/// A user id. Ids are strings on the wire and unique within a room.
public typealias PeerID = String

/// One entry of a room list: `{"id":"...","username":"..."}`.
public struct User: Codable, Hashable, Sendable {
    public var id: PeerID
    public var username: String?

    public init(id: PeerID, username: String? = nil) {
        self.id = id
        self.username = username
    }
}

/// The `list` of `connection_list` and `rest_connection_list`, keyed by id.
public typealias UserList = [PeerID: User]
