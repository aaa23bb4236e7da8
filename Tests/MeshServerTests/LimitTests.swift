import Foundation
import MeshProtocol
import NIOSSL
import Testing
import MeshTestSupport
@testable import MeshServer

/// What a connection may hold of the server: bytes waiting for a client that does
/// not read, time before it speaks, which pages may open it, and which TLS.
@Suite struct LimitTests {
    @Test func aClientThatNeverReadsIsDroppedOnceItsOutboxBytesPassTheLimit() async throws {
        let server = try await TestServer.start {
            $0.maxOutboxBytes = 256 * 1024
            $0.rateLimit = 0
            $0.byteRateLimit = 0
        }
        let alice = try await TestClient.join(server.url, id: "alice")
        let sender = try await TestClient.join(server.url, id: "sender")
        let silent = try RawSocket(port: server.port, receiveBuffer: 4096)
        #expect(silent.upgrade().hasPrefix("HTTP/1.1 101"))
        silent.sendText(#"{"type":"new_user","id":"silent"}"#)
        _ = try await alice.next(where: { $0.newUserId == "silent" })

        // 2000 frames of 8 KB for silent alone: fewer frames than a count of frames would
        // allow, more bytes than the kernel's buffers and the outbox hold.
        let chat = #"{"type":"chat","id":"sender","targetId":"silent","pad":""# + String(repeating: "x", count: 8000) + #""}"#
        for _ in 0..<2000 { sender.send(chat) }

        let rest = try await alice.next(where: { $0.type == .restConnectionList })
        #expect(rest.list.map { Set($0.keys) } == ["alice", "sender"])
        #expect(server.server.list(ofRoom: "/").keys.sorted() == ["alice", "sender"])

        // Dropped once its bytes were waiting, not once most of the 16 MB had slipped past the
        // count: every chat after the drop is refused, and the kernel's and NIO's buffers hold
        // far less than the 8 MB that would leave fewer than 1000 of those. A second new_user,
        // refused after them all, marks their end; the whole 16 MB goes through the server
        // first, which on a busy machine takes more than the usual wait.
        sender.send(Message(type: .newUser, id: "sender"))
        var refused = 0
        _ = try await sender.next(where: { message in
            if message.code == "unknown_target" { refused += 1 }
            return message.code == "already_registered"
        }, within: .seconds(30))
        #expect(refused > 1000)
        // the others talk on
        sender.send(Message(type: .sendOffer, id: "sender", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await alice.next(where: { $0.type == .sendOffer }).id == "sender")
        try await server.stop()
    }

    @Test func aConnectionThatSaysNothingIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await TestServer.start { $0.handshakeTimeout = 1 }
        // In a scope of its own: an open socket would hold up the server's shutdown.
        do {
            let silent = try RawSocket(port: server.port)
            #expect(await onThread { silent.isClosedByServer(within: 5) })
        }
        try await server.stop()
    }

    @Test func anHTTPRequestThatStallsIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await TestServer.start { $0.handshakeTimeout = 1 }
        do {
            let stalled = try RawSocket(port: server.port)
            stalled.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
            #expect(await onThread { stalled.isClosedByServer(within: 5) })
        }
        try await server.stop()
    }

    @Test func connectionsThatFinishTheirRequestInTimeAreNotCut() async throws {
        let server = try await TestServer.start { $0.handshakeTimeout = 1; $0.registerTimeout = 1 }
        let alice = try await TestClient.join(server.url, id: "alice")
        let http = try RawSocket(port: server.port)
        http.write("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(http.readHead().hasPrefix("HTTP/1.1 200"))
        try await Task.sleep(for: .milliseconds(2500))
        let bob = try await TestClient.join(server.url, id: "bob")
        bob.send(Message(type: .sendOffer, id: "bob", targetId: "alice", sdp: .offer("v=0")))
        #expect(try await alice.next(where: { $0.type == .sendOffer }).id == "bob")
        try await server.stop()
    }

    @Test func aWebSocketThatDoesNotRegisterIsClosedAfterTheRegisterTimeout() async throws {
        let server = try await TestServer.start { $0.registerTimeout = 1 }
        let idle = try await TestClient.connect(server.url)
        let error = try await idle.next(within: .seconds(5))
        #expect(error.code == "register_timeout")
        #expect(try await idle.closedByServer()?.closeCode == .policyViolation)
        try await server.stop()
    }

    @Test func upgradesFromPagesOfOtherOriginsGet403() async throws {
        let server = try await TestServer.start { $0.allowedOrigins = ["https://call.example", "http://localhost:8000"] }
        for origin in ["https://evil.example", "http://call.example", "https://call.example.evil.example", "null"] {
            let socket = try RawSocket(port: server.port)
            let head = socket.upgrade(headers: ["Origin: \(origin)"])
            #expect(head.hasPrefix("HTTP/1.1 403"), "\(origin)")
            #expect(socket.isClosedByServer(within: 5), "\(origin)")
        }
        // allowed pages, and programs, which send no Origin
        for (index, headers) in [["Origin: https://call.example"], ["Origin: HTTPS://Call.Example:443"], ["Origin: http://localhost:8000"], []].enumerated() {
            let socket = try RawSocket(port: server.port)
            #expect(socket.upgrade(headers: headers).hasPrefix("HTTP/1.1 101"), "\(headers)")
            // An id of its own: the last socket's close_connection, on another connection, may
            // reach the server after this new_user, which would be refused as a duplicate.
            socket.sendText(#"{"type":"new_user","id":"x\#(index)"}"#)
            #expect(await onThread { socket.textFrame(containing: "connection_list") } != nil, "\(headers)")
            socket.sendText(#"{"type":"close_connection","id":"x\#(index)"}"#)
        }
        // the page itself is served whatever the origin
        let page = try RawSocket(port: server.port)
        page.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\r\n")
        #expect(page.readHead().hasPrefix("HTTP/1.1 200"))
        try await server.stop()
    }

    @Test func withoutAnOriginListEveryOriginMayUpgrade() async throws {
        let server = try await TestServer.start()
        let socket = try RawSocket(port: server.port)
        #expect(socket.upgrade(headers: ["Origin: https://anywhere.example"]).hasPrefix("HTTP/1.1 101"))
        try await server.stop()
    }

    @Test func tlsBelow1_2IsRefused() async throws {
        let files = try Certificate.make()
        defer { files.remove() }
        let server = try await TestServer.start { $0.tls = .init(certificate: files.certificate, privateKey: files.key) }
        var old = TLSConfiguration.makeClientConfiguration()
        old.trustRoots = .file(files.certificate)
        old.maximumTLSVersion = .tlsv11
        await #expect(throws: (any Error).self) { _ = try await TestClient.connect("wss://localhost:\(server.port)", tls: old) }
        var current = old
        current.maximumTLSVersion = nil
        _ = try await TestClient.connect("wss://localhost:\(server.port)", tls: current)
        try await server.stop()
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, made with Debian's openssl.
struct Certificate {
    let directory: URL
    var certificate: String { directory.appendingPathComponent("cert.pem").path }
    var key: String { directory.appendingPathComponent("key.pem").path }

    static func make() throws -> Certificate {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshgate-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = Certificate(directory: directory)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", files.key, "-out", files.certificate]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw Timeout(description: "openssl could not make a certificate") }
        return files
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
