/// Maps a request path to its room, PROTOCOL.md "Rooms and access":
/// `/` is the default room, `/room/NAME` is room NAME.
enum RoomPath {
    /// The default room's key, also its path.
    static let defaultRoom = "/"

    /// The room key for a request path (query string already removed), or nil
    /// when the path names no room.
    static func room(forPath path: String) -> String? {
        if path.isEmpty || path == "/" { return defaultRoom }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "/room/NAME" splits into ["", "room", "NAME"]; a trailing slash adds "".
        guard parts.count == 3 || (parts.count == 4 && parts[3].isEmpty),
              parts[0].isEmpty, parts[1] == "room" else { return nil }
        let name = parts[2]
        guard !name.isEmpty, name.utf8.count <= 128 else { return nil }
        return "/room/\(name)"
    }
}
