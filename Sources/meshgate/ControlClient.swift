import Foundation

/// The other end of ``ControlEndpoint``: one HTTP/1.1 request over the Unix socket, the
/// answer read to its end. Blocking; `meshgate ctl` does nothing else meanwhile.
enum ControlClient {
    struct Answer {
        let status: Int
        let body: [String: Any]
    }

    /// Whether something accepts connections at `path`.
    static func answers(at path: String) -> Bool {
        guard let socket = try? connect(path) else { return false }
        close(socket)
        return true
    }

    static func request(_ method: String, _ target: String, body: Data = Data(), at path: String) throws(RuntimeFailure) -> Answer {
        let socket: Int32
        do {
            socket = try connect(path)
        } catch {
            throw RuntimeFailure("cannot reach a gateway at \(path): \(error.description); is `meshgate join --control \(path)` running, as this user?")
        }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let head = "\(method) \(target) HTTP/1.1\r\nHost: meshgate\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let request = Array(head.utf8) + Array(body)
        guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw RuntimeFailure("the gateway at \(path) closed the connection")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let head = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? ""),
              let body = try? JSONSerialization.jsonObject(with: Data(text[head.upperBound...].utf8)) as? [String: Any] else {
            throw RuntimeFailure("the gateway at \(path) gave an answer that is not its control API's")
        }
        return Answer(status: status, body: body)
    }

    private static func connect(_ path: String) throws(RuntimeFailure) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw RuntimeFailure("the path is too long for a socket") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RuntimeFailure(String(cString: strerror(errno))) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(socket)
            throw RuntimeFailure(reason.lowercased())
        }
        return socket
    }
}
