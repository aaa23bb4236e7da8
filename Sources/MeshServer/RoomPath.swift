import Hummingbird

/// The paths that name a room, PROTOCOL.md "Rooms and access": `/` is the default room,
/// `/room/NAME` is room NAME, `/hub/NAME` is hub room NAME (a room served through a hub).
enum RoomPath {
    /// The default room's key, also its path.
    static let defaultRoom = "/"
    /// How the keys of hub rooms begin.
    static let hubPrefix = Switchboard.hubRoomPrefix

    /// The routes of the rooms, each with the prefix of its rooms' keys (nil: the default
    /// room's route): the browser client's page and the WebSocket are at each. The router
    /// ignores a trailing slash, so `/room/NAME/` is room NAME too.
    static let routes: [(path: RouterPath, prefix: String?)] = [("/", nil), ("/room/:name", "/room/"), ("/hub/:name", hubPrefix)]

    /// The room key for the `:name` a route of `prefix` captured, or nil when the name is
    /// too long to be a room's.
    static func room(named name: String?, prefix: String?) -> String? {
        guard let name, let prefix else { return defaultRoom }
        guard name.utf8.count <= 128 else { return nil }
        return prefix + name
    }
}
