import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/WebSocket channel with a ``HandshakeGuard`` in front of its upgrade handler.
struct GuardedUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let base: HTTP1WebSocketUpgradeChannel
    let handshakeTimeout: TimeAmount
    let origins: OriginList
    let limits: ConnectionLimits
    let metrics: ServerMetrics
    let logger: Logger

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Counted as it is accepted, given back as it closes, whatever happens between.
        let address = channel.remoteAddress?.ipAddress
        let admission: HandshakeGuard.Admission
        switch limits.accept(from: address) {
        case .success(let key):
            channel.closeFuture.whenComplete { [limits] _ in limits.release(key: key, total: true) }
            admission = limits.isTrustedProxy(address) ? .proxied : .counted
        case .failure(let refusal):
            admission = .refused(refusal)
        }
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let upgrader = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            let guardian = HandshakeGuard(timeout: handshakeTimeout, origins: origins, limits: limits, admission: admission,
                                          metrics: metrics, logger: self.logger)
            try operations.addHandler(guardian, position: .before(upgrader))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
