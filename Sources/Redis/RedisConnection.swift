import CHiredis

/// One reply of Redis, as RESP gives it.
public enum RedisReply: Sendable, Equatable {
    case string(String)
    case status(String)
    case integer(Int)
    case array([RedisReply])
    case null
    /// Redis refused the command (`ERR …`, `WRONGTYPE …`, a script's own error).
    case error(String)

    public var string: String? {
        switch self {
        case .string(let text), .status(let text): text
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let items) = self { items } else { nil }
    }
}

/// One connection to Redis through hiredis (Debian's `libhiredis`): every call blocks until
/// Redis answers or the time limit passes, so it belongs to a thread of its own, and to one
/// owner at a time. A connection that failed once is done: make another.
public final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    /// For `rediss://`: what carries hiredis's plain connection over TLS.
    private var tunnel: TLSTunnel?
    public let address: RedisAddress

    /// Connects, signs in (`AUTH`) and picks the database (`SELECT`); `timeout` also limits
    /// each read and write after.
    public init(_ address: RedisAddress, timeout: Duration = .seconds(2)) throws(RedisError) {
        self.address = address
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let context: UnsafeMutablePointer<redisContext>?
        if address.tls {
            do {
                tunnel = try TLSTunnel(host: address.host, port: address.port, files: address.tlsFiles, timeout: timeout)
            } catch {
                throw RedisError("cannot reach Redis at \(address): \(error)")
            }
            context = tunnel.flatMap { mg_redis_connect_fd($0.descriptor, milliseconds) }
        } else {
            context = mg_redis_connect(address.host, Int32(address.port), milliseconds)
        }
        guard let context else {
            tunnel?.close(hiredisEndToo: true)
            throw RedisError("cannot reach Redis at \(address): out of memory")
        }
        self.context = context
        if context.pointee.err != 0 {
            let reason = Self.reason(of: context)
            close()
            throw RedisError("cannot reach Redis at \(address): \(reason)")
        }
        if let password = address.password {
            let signIn = address.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            if case .error(let refusal) = try run(signIn) {
                close()
                throw RedisError("Redis at \(address) refused the password: \(refusal)")
            }
        }
        if address.database != 0, case .error(let refusal) = try run(["SELECT", String(address.database)]) {
            close()
            throw RedisError("Redis at \(address) has no database \(address.database): \(refusal)")
        }
    }

    deinit { close() }

    /// Runs one command and returns its reply (a refusal is `.error`); throws when the
    /// connection failed, which ends it.
    public func run(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try send(arguments)
        return try next()
    }

    /// Queues a command without waiting: its reply comes with a later ``next()``, in order.
    public func send(_ arguments: [String]) throws(RedisError) {
        guard let context else { throw RedisError("the connection to Redis at \(address) is closed") }
        let appended = Self.withArguments(arguments) { count, pointers, lengths in
            redisAppendCommandArgv(context, count, pointers, lengths) == REDIS_OK
        }
        guard let appended else { throw RedisError("no command to send") }
        if !appended { throw fail(context) }
    }

    /// Waits for the next reply.
    public func next() throws(RedisError) -> RedisReply {
        guard let context else { throw RedisError("the connection to Redis at \(address) is closed") }
        guard let reply = mg_redis_next(context) else { throw fail(context) }
        defer { freeReplyObject(reply) }
        return Self.convert(reply)
    }

    private func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let tls = tunnel?.closedBecause.map { "; \($0)" } ?? ""
        let error = RedisError("lost Redis at \(address): \(Self.reason(of: context))\(tls)")
        close()
        return error
    }

    private func close() {
        if let context { redisFree(context) }
        context = nil
        tunnel?.close()
        tunnel = nil
    }

    private static func reason(of context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? "error \(context.pointee.err)" : text
    }

    /// Calls `body` with C arrays of the arguments' bytes and lengths (binary-safe).
    /// Nil for no arguments.
    private static func withArguments<T>(_ arguments: [String], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T? {
        let copies = arguments.map { argument -> UnsafeMutableRawPointer in
            let bytes = Array(argument.utf8)
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(copy), byteCount: bytes.count) }
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        var pointers = copies.map { UnsafePointer<CChar>?($0.assumingMemoryBound(to: CChar.self)) }
        let lengths = arguments.map { $0.utf8.count }
        return pointers.withUnsafeMutableBufferPointer { pointerBuffer in
            lengths.withUnsafeBufferPointer { lengthBuffer in
                guard let pointers = pointerBuffer.baseAddress, let lengths = lengthBuffer.baseAddress else { return nil }
                return body(Int32(arguments.count), pointers, lengths)
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let item = reply.pointee
        func text() -> String {
            guard let bytes = item.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(item.len)), as: UTF8.self)
        }
        switch item.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(item.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(item.elements)).compactMap { index in item.element[index].map(convert) })
        default: return .null
        }
    }
}
