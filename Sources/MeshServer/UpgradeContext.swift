import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// What the WebSocket routes know of an upgrade request: the route's parameters, and the
/// connection, which the server closes itself when a client stops reading.
struct UpgradeContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}
