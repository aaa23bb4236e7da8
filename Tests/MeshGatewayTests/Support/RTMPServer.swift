import Foundation
import MeshTestSupport

/// A live-streaming platform on loopback: nginx with Debian's RTMP module, taking streams
/// at `rtmp://127.0.0.1:PORT/live/NAME` and playing them back to whoever asks.
final class RTMPServer: Sendable {
    let port: Int
    private let process: MeshgateProcess

    private init(port: Int, process: MeshgateProcess) {
        self.port = port
        self.process = process
    }

    func url(_ stream: String) -> String { "rtmp://127.0.0.1:\(port)/live/\(stream)" }

    /// Waits until someone publishes `stream` (nginx logs it): a player that asks before then
    /// may be given a stream without its codec headers, and decode nothing.
    func waitForPublisher(of stream: String) async throws {
        try await eventually("a publisher of \(stream)", within: .seconds(20)) { () -> Bool? in
            process.stderr.contains("publish: name='\(stream)'") ? true : nil
        }
    }

    static func start() async throws -> RTMPServer {
        let home = try temporaryDirectory("rtmp")
        let port = try freePort()
        let configuration = """
            load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
            daemon off;
            master_process off;
            pid \(home)/nginx.pid;
            error_log stderr info;
            events {}
            rtmp {
                server {
                    listen 127.0.0.1:\(port);
                    application live { live on; }
                }
            }
            """
        try configuration.write(toFile: "\(home)/nginx.conf", atomically: true, encoding: .utf8)
        let process = try MeshgateProcess(["-c", "\(home)/nginx.conf", "-p", home, "-e", "stderr"], executable: "/usr/sbin/nginx")
        try await eventually("nginx to listen on \(port)") { () -> Bool? in
            guard process.isRunning else { throw Timeout(description: "nginx exited: \(process.stderr)") }
            return canConnect(to: port) ? true : nil
        }
        return RTMPServer(port: port, process: process)
    }

    deinit {
        process.signal(SIGKILL)
    }

    /// A TCP port nobody listens on now (the kernel's pick for port 0).
    private static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw Timeout(description: "no free port on loopback") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func canConnect(to port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
