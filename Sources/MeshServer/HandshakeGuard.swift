import Logging
import NIOCore
import NIOHTTP1

/// Stands in front of the WebSocket upgrade for a connection's first request. It
/// closes a connection that has not finished its TLS handshake and that request in
/// time (a few hundred silent sockets would otherwise hold every file descriptor),
/// closes one that was over a connection limit when accepted, answers 429 to a proxied
/// request from a client over its limit, and answers 403 to an upgrade from a page
/// whose origin is not allowed. Once the request is in, it steps aside.
final class HandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        case waiting
        /// The request was refused: the rest of it is dropped.
        case refusing
        /// The request is in: everything passes untouched, even what is no longer HTTP.
        case passing
    }

    /// What the connection was when accepted, as the connection limits saw it.
    enum Admission {
        case counted
        /// Through a trusted proxy: counted per client once its request names the client.
        case proxied
        case refused(ConnectionLimits.Refusal)
    }

    private let timeout: TimeAmount
    private let origins: OriginList
    private let limits: ConnectionLimits
    private let admission: Admission
    private let metrics: ServerMetrics
    private let logger: Logger
    private var phase = Phase.waiting
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, origins: OriginList, limits: ConnectionLimits, admission: Admission, metrics: ServerMetrics, logger: Logger) {
        self.timeout = timeout
        self.origins = origins
        self.limits = limits
        self.admission = admission
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if case .refused(let refusal) = admission {
            logRefusal(refusal, address: context.channel.remoteAddress?.ipAddress)
            return giveUp(context)
        }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            logger.debug("closed: no request in time", metadata: ["peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "-")"])
            giveUp(context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if phase == .waiting { giveUp(context) }
        context.fireChannelInactive()
    }

    /// Ends the connection as if the client had closed its side: the upgrade handler then
    /// lets it go quietly, where a plain close would have Hummingbird log an error for
    /// every silent, stalled or refused connection, at any stranger's will.
    private func giveUp(_ context: ChannelHandlerContext) {
        let wasWaiting = phase != .passing
        phase = .refusing
        if wasWaiting { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .passing: return context.fireChannelRead(data)
        case .refusing: return
        case .waiting: break
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if case .proxied = admission, let client = limits.client(inForwardedFor: head.headers["x-forwarded-for"]) {
                switch limits.forwarded(for: client) {
                case .success(let key):
                    context.channel.closeFuture.whenComplete { [limits] _ in limits.release(key: key, total: false) }
                case .failure(let refusal):
                    logRefusal(refusal, address: client)
                    return refuse(context: context, head: head, status: .tooManyRequests,
                                  "Too many connections from your address; close some and try again\n")
                }
            }
            let origin = head.headers.first(name: "origin")
            if Self.isUpgrade(head), !origins.allows(origin) {
                logger.notice("refused", metadata: ["code": "origin_not_allowed", "origin": "\(origin ?? "")", "path": "\(head.uri.prefix(200))"])
                return refuse(context: context, head: head, status: .forbidden,
                              "WebSocket connections from pages of this origin are not allowed here\n")
            }
            context.fireChannelRead(data)
        case .body:
            context.fireChannelRead(data)
        case .end:
            // Passing before forwarding: the upgrade may replace the HTTP handlers while
            // this part is on its way, and what follows is WebSocket frames.
            phase = .passing
            deadline?.cancel()
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// Answers the request with `status` and `text`, then closes; the rest of it is dropped.
    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, _ text: String) {
        phase = .refusing
        deadline?.cancel()
        let body = ByteBuffer(string: text)
        let headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close"),
        ])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [self] _ in giveUp(context) }
    }

    /// A WebSocket upgrade request, whatever else it asks for.
    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers["upgrade"].contains { $0.lowercased().contains("websocket") }
    }

    private func logRefusal(_ refusal: ConnectionLimits.Refusal, address: String?) {
        metrics.refusedConnection(refusal)
        let (log, unlogged) = limits.logsRefusal()
        guard log else { return }
        var metadata: Logger.Metadata = ["code": "\(refusal.rawValue)", "address": "\(address ?? "-")"]
        switch refusal {
        case .total: metadata["limit"] = "\(limits.limits.total) (--max-connections)"
        case .perAddress: metadata["limit"] = "\(limits.limits.perAddress) (--max-connections-per-address)"
        }
        if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
        logger.notice("refused a connection", metadata: metadata)
    }
}
