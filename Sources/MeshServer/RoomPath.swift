import Hummingbird

/// The paths that name a room, PROTOCOL.md "Rooms and access": `/` is the default room,
/// `/room/NAME` is room NAME.
enum RoomPath {
    /// The default room's key, also its path.
    static let defaultRoom = "/"

    /// The routes of the rooms: the browser client's page and the WebSocket are at both.
    /// The router ignores a trailing slash, so `/room/NAME/` is room NAME too.
    static let routes: [RouterPath] = ["/", "/room/:name"]

    /// The room key for the `:name` one of `routes` captured (nil: the default room's route),
    /// or nil when the name is too long to be a room's.
    static func room(named name: String?) -> String? {
        guard let name else { return defaultRoom }
        guard name.utf8.count <= 128 else { return nil }
        return "/room/\(name)"
    }
}
