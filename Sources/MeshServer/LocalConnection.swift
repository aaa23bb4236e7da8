import MeshProtocol

/// A hub room's state for the one who runs its hub: how many users it holds (the hub not
/// counted), and whether the hub participant is registered in it.
public struct HubRoomChange: Sendable, Equatable {
    public let room: String
    public let users: Int
    public let hasHub: Bool
}

/// A socket into the server from inside its process, for a hub room's hub participant:
/// the only connection that may register as `hub`. It takes the same rules, limits and
/// order of events as a WebSocket, without a network or a token in between.
public struct LocalConnection: Sendable {
    /// What the server sends, one frame each; ends when the server closes the connection.
    public let inbound: AsyncStream<String>
    /// Hands a frame to the server, as if it came from the socket.
    public let send: @Sendable (String) -> Void
    /// Closes the connection, as a socket that goes away.
    public let close: @Sendable () -> Void
}

extension MeshServer {
    /// The id a hub room's hub registers as, which nobody else may take there.
    public static let hubID = Switchboard.hubID

    /// Opens the hub participant's connection into `room` (a key from ``HubRoomChange``).
    public func connectHub(toRoom room: String) -> LocalConnection {
        let opened = hub.open(room: room, asHub: true)
        let (socket, hub) = (opened.socket, hub)
        let (inbound, continuation) = AsyncStream<String>.makeStream()
        let forwarding = Task {
            for await outgoing in opened.outbox {
                guard case .text(let text, let since) = outgoing else { break }
                continuation.yield(text)
                // Handed over in memory: written as soon as it is taken.
                hub.written(text.utf8.count, to: socket)
                hub.metrics.handedOver(since: since)
            }
            continuation.finish()
            hub.close(socket)
        }
        return LocalConnection(inbound: inbound, send: { hub.receive($0, from: socket) }) {
            forwarding.cancel()
            hub.close(socket)
        }
    }
}
