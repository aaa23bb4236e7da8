import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// The files `rediss://` is checked with: by default the system's trusted authorities and no
/// client certificate. `authority` is for a Redis whose certificate a private authority signed;
/// `certificate` and `key` (PEM, both or neither) for a Redis that asks clients for one
/// (`tls-auth-clients yes`, Redis's default).
public struct RedisTLSFiles: Sendable, Equatable {
    public var authority: String?
    public var certificate: String?
    public var key: String?

    public init(authority: String? = nil, certificate: String? = nil, key: String? = nil) {
        self.authority = authority
        self.certificate = certificate
        self.key = key
    }
}

/// TLS to Redis for hiredis 0.14, which has none: a TLS connection to Redis made by
/// SwiftNIO's TLS (BoringSSL, already in the server for `--tls-cert`), and a socket pair whose
/// one end hiredis talks plain RESP on while NIO carries the bytes over the TLS connection
/// and back. The handshake is finished before hiredis gets its end, so that a certificate
/// Redis or we refuse is said as such and not as a connection that closed.
final class TLSTunnel {
    /// hiredis's end of the pair.
    let descriptor: Int32
    private let channels: [Channel]
    /// Why the TLS connection ended, when TLS said (an alert, a certificate refused).
    private let failure: TLSFailure

    /// Connects to `host`:`port`, checks Redis's certificate (its name or IP against `host`)
    /// and finishes the handshake within `timeout`.
    init(host: String, port: Int, files: RedisTLSFiles, timeout: Duration) throws(RedisError) {
        let context = try Self.context(files)
        // An IP address is checked against the certificate's IP names; only a name goes into SNI.
        let serverName = Self.isIPAddress(host) ? nil : host
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let handshake = loop.makePromise(of: Void.self)
        let failure = TLSFailure(host: host, showsCertificate: files.certificate != nil)
        self.failure = failure
        let remote: Channel
        do {
            remote = try ClientBootstrap(group: loop)
                .connectTimeout(.init(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        try channel.pipeline.syncOperations.addHandler(TLSWatch(handshake: handshake, failure: failure))
                    }
                }
                .connect(host: host, port: port).wait()
        } catch {
            handshake.fail(error)
            throw RedisError(Self.connectionFailure(error, timeout: timeout))
        }
        // A server that takes the connection and never answers: a port without TLS does that.
        let deadline = loop.scheduleTask(in: .init(timeout)) {
            handshake.fail(RedisError("no answer within \(timeout.components.seconds) s (is \(port) Redis's TLS port?)"))
        }
        do {
            try handshake.futureResult.wait()
            deadline.cancel()
        } catch {
            deadline.cancel()
            remote.close(promise: nil)
            throw RedisError("the TLS handshake with Redis failed: \(failure.reason ?? "\(error)")")
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            remote.close(promise: nil)
            throw RedisError("cannot make a socket pair for TLS: \(String(cString: strerror(errno)))")
        }
        // NIO owns its end once it took it: closed through its channel, never by hand after.
        let local: Channel
        do {
            // On the same loop as the TLS connection, so that the two pumps call each other directly.
            local = try ClientBootstrap(group: remote.eventLoop).withConnectedSocket(pair[0]).wait()
        } catch {
            remote.close(promise: nil)
            Foundation.close(pair[0])
            Foundation.close(pair[1])
            throw RedisError("cannot carry Redis's connection over TLS: \(error)")
        }
        do {
            try remote.eventLoop.submit {
                let (mine, theirs) = Pump.pair()
                try local.pipeline.syncOperations.addHandler(mine)
                try remote.pipeline.syncOperations.addHandler(theirs)
                // Closed by Redis meanwhile (a client certificate refused after the handshake):
                // its pump never sees it close, so hiredis is told here.
                if !remote.isActive { local.close(promise: nil) }
            }.wait()
        } catch {
            remote.close(promise: nil)
            local.close(promise: nil)
            Foundation.close(pair[1])
            throw RedisError("Redis closed the TLS connection: \(failure.reason ?? "\(error)")")
        }
        channels = [local, remote]
        descriptor = pair[1]
    }

    /// What TLS said when the connection ended, if it said anything.
    var closedBecause: String? { failure.reason }

    /// Closes both sides; hiredis closes its end itself, unless it never took it.
    func close(hiredisEndToo: Bool = false) {
        for channel in channels { channel.close(promise: nil) }
        if hiredisEndToo { Foundation.close(descriptor) }
    }

    private static func context(_ files: RedisTLSFiles) throws(RedisError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let authority = files.authority {
            guard FileManager.default.isReadableFile(atPath: authority) else {
                throw RedisError("cannot read the certificate authority file \(authority)")
            }
            configuration.trustRoots = .file(authority)
        }
        switch (files.certificate, files.key) {
        case (nil, nil): break
        case (let certificate?, let key?):
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            } catch {
                throw RedisError("cannot read the client certificate \(certificate) (PEM expected): \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw RedisError("cannot read the client key \(key) (PEM expected): \(error)")
            }
        default:
            throw RedisError("a client certificate for Redis needs both its certificate and its key")
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError("cannot set up TLS for Redis: \(error)")
        }
    }

    /// Why the TCP connection failed, as a plain connection's error says it.
    private static func connectionFailure(_ error: any Error, timeout: Duration) -> String {
        if case ChannelError.connectTimeout = error { return "no connection within \(timeout.components.seconds) s" }
        guard let failure = error as? NIOConnectionError else { return "\(error)" }
        if let error = failure.connectionErrors.first?.error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = failure.connectionErrors.first?.error { return "\(error)" }
        return "cannot resolve \(failure.host)"
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

/// The first error TLS gave on a tunnel's connection, said for a person.
private final class TLSFailure: Sendable {
    private let host: String
    private let showsCertificate: Bool
    private let said = Mutex<String?>(nil)

    init(host: String, showsCertificate: Bool) {
        self.host = host
        self.showsCertificate = showsCertificate
    }

    var reason: String? { said.withLock { $0 } }

    func note(_ error: any Error) {
        let reason = explain(error)
        said.withLock { $0 = $0 ?? reason }
    }

    private func explain(_ error: any Error) -> String {
        if let error = error as? RedisError { return error.description }
        if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            return "the TLS connection was cut without TLS's goodbye (Redis killed, or the network)"
        }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "Redis's certificate is not for \(host): connect by a name or address it has"
        }
        let text = "\(error)"
        // BoringSSL's reason is the code name in "…:OPENSSL_internal:NAME at …".
        let code = text.firstRange(of: "OPENSSL_internal:").map { text[$0.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" } }
        switch code.map(String.init) {
        case "CERTIFICATE_VERIFY_FAILED"?:
            return "Redis's certificate is not signed by an authority trusted here (the system's, or the one given for Redis) (CERTIFICATE_VERIFY_FAILED)"
        case let code? where code.contains("CERTIFICATE_REQUIRED") || (!showsCertificate && code.contains("HANDSHAKE_FAILURE")):
            return "Redis asks for a client certificate and none was given (\(code))"
        case let code? where code.contains("ALERT"):
            return "Redis refused the connection (\(code))"
        case let code?:
            return code
        case nil:
            return text
        }
    }
}

/// Completes `handshake` when it ends (fails it on an error or a close before) and notes the
/// first TLS error of the connection, before or after.
private final class TLSWatch: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let handshake: EventLoopPromise<Void>
    private let failure: TLSFailure

    init(handshake: EventLoopPromise<Void>, failure: TLSFailure) {
        self.handshake = handshake
        self.failure = failure
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { handshake.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure.note(error)
        handshake.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// One side of the tunnel: hands what its channel reads to the other side's channel, and
/// reads no more while the other side cannot take it (a slow reader holds the writer back
/// instead of piling bytes up in memory). When one side closes, so does the other. Both
/// sides run on one event loop.
private final class Pump: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var other: Pump?
    private var context: ChannelHandlerContext?
    /// A read asked for while the other side was full.
    private var readWaiting = false

    static func pair() -> (Pump, Pump) {
        let (one, two) = (Pump(), Pump())
        one.other = two
        two.other = one
        return (one, two)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        other = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        other?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        other?.context?.flush()
    }

    func read(context: ChannelHandlerContext) {
        if other?.context?.channel.isWritable ?? true {
            context.read()
        } else {
            readWaiting = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let other, other.readWaiting {
            other.readWaiting = false
            other.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        other?.context?.close(promise: nil)
        other?.other = nil
        other = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
