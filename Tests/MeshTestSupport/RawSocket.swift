import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP socket on loopback, for what a WebSocket library will not do:
/// plain HTTP requests, and a client that never answers pings.
public final class RawSocket: Sendable {
    private let fd: Int32

    /// - Parameters:
    ///   - receiveBuffer: a small kernel buffer, for a client that must fall behind soon.
    ///   - source: the loopback address it comes from (`127.0.0.2`: another host, to the server).
    public init(port: Int, receiveBuffer: Int32? = nil, from source: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Timeout(description: "socket() failed") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { close(fd); throw Timeout(description: "cannot bind to \(source)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { close(fd); throw Timeout(description: "connect to port \(port) failed") }
    }

    deinit { close(fd) }

    public func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    public func write(_ text: String) { write(Array(text.utf8)) }

    /// Reads until the peer closes or the receive timeout passes.
    public func readAll() -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return result }
            result += buffer[0..<count]
        }
    }

    /// Reads until the end of the HTTP response head.
    public func readHead() -> String {
        var result: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            result.append(byte)
            if result.count >= 4, result.suffix(4) == [13, 10, 13, 10] { break }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// `GET path` on loopback as HTTP/1.1, on a thread of its own; the response, head and body.
    public static func get(_ path: String, port: Int) async throws -> String {
        let http = try RawSocket(port: port)
        return await onThread {
            http.write("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
            return String(decoding: http.readAll(), as: UTF8.self)
        }
    }

    /// Does the WebSocket handshake; returns the response head.
    public func upgrade(path: String = "/", headers: [String] = []) -> String {
        write("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n")
        return readHead()
    }

    /// Sends one masked text frame, as a client must.
    public func sendText(_ text: String) {
        write(Self.frame(text))
    }

    /// One masked frame; text (opcode 1) unless told otherwise.
    public static func frame(_ text: String) -> [UInt8] { frame(opcode: 1, Array(text.utf8)) }

    public static func frame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [1, 2, 3, 4]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// Writes on a thread of its own (see ``onThread(_:)``).
    public func writeDetached(_ bytes: [UInt8]) async {
        await onThread { self.write(bytes) }
    }

    /// One frame from the server (unmasked), or nil when the socket closed or timed out.
    public func readFrame() -> (opcode: UInt8, payload: [UInt8])? {
        guard let head = read(2) else { return nil }
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            guard let extended = read(2) else { return nil }
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            guard let extended = read(8) else { return nil }
            length = extended.reduce(0) { $0 << 8 | Int($1) }
        }
        guard let payload = read(length) else { return nil }
        return (head[0] & 0x0F, payload)
    }

    /// Skips frames until the server's close frame; returns its status code.
    public func closeCode() -> Int? {
        while let frame = readFrame() {
            if frame.opcode == 8 { return frame.payload.count >= 2 ? Int(frame.payload[0]) << 8 | Int(frame.payload[1]) : 0 }
        }
        return nil
    }

    /// Skips text frames until one holds `text`; returns it.
    public func textFrame(containing text: String) -> String? {
        while let frame = readFrame() {
            let string = String(decoding: frame.payload, as: UTF8.self)
            if frame.opcode == 1, string.contains(text) { return string }
        }
        return nil
    }

    /// Whether the server closes the connection within `seconds`, reading and dropping what it sends meanwhile.
    public func isClosedByServer(within seconds: Int) -> Bool {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    private func read(_ count: Int) -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = result.withUnsafeMutableBytes { recv(fd, $0.baseAddress.map { $0 + offset }, count - offset, 0) }
            if got <= 0 { return nil }
            offset += got
        }
        return result
    }
}

/// Runs blocking socket calls on a thread of their own: a read or write that waits on
/// the server must not hold one of the few threads the server's own tasks run on.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { done in
        Thread { done.resume(returning: body()) }.start()
    }
}
