import Foundation
import MeshProtocol
import NIOSSL
import Testing
import MeshTestSupport
@testable import MeshServer

/// Token, TLS, the status page and shutdown.
@Suite struct AccessTests {
    @Test func theRightTokenIsAcceptedAndAnyOtherRefusedBeforeRegistering() async throws {
        let server = try await TestServer.start { $0.token = "s3cret" }
        let member = try await TestClient.join(server.url + "/?token=s3cret", id: "alice")
        let roomMember = try await TestClient.join(server.url + "/room/blue?token=s3cret", id: "bob")
        _ = roomMember

        for url in [server.url, server.url + "/?token=wrong", server.url + "/room/blue?token=s3cre"] {
            let stranger = try await TestClient.connect(url)
            stranger.send(Message(type: .newUser, id: "mallory"))
            let error = try await stranger.next()
            #expect(error.code == "unauthorized")
            #expect(try await stranger.closedByServer()?.closeCode == .policyViolation)
        }
        #expect(try await member.expectNothing(for: .milliseconds(100)).isEmpty)
        #expect(server.server.list(ofRoom: "/").keys.sorted() == ["alice"])
        try await server.stop()
    }

    @Test func wssWorksWithACertificateMadeForTheTest() async throws {
        let files = try Certificate.make()
        defer { files.remove() }
        let cert = files.certificate
        let server = try await TestServer.start { $0.tls = .init(certificate: cert, privateKey: files.key) }
        #expect(server.url.hasPrefix("wss://"))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(cert)
        // TLS names the server by host name: SNI cannot carry an IP address.
        let alice = try await TestClient.connect("wss://localhost:\(server.port)", tls: tls)
        alice.send(Message(type: .newUser, id: "alice"))
        #expect(try await alice.next().newUserId == "alice")
        try await server.stop()
    }

    @Test func theStatusPageShowsVersionAndURLButNoRoomsOrUsers() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url + "/room/secretroom", id: "secretuser")
        _ = alice
        let page = try await RawSocket.get("/status", port: server.port)
        #expect(page.hasPrefix("HTTP/1.1 200"))
        #expect(page.contains(MeshServer.version))
        #expect(page.contains("ws://127.0.0.1:\(server.port)/"))
        #expect(!page.contains("secretroom"))
        #expect(!page.contains("secretuser"))
        try await server.stop()
    }

    @Test func theBrowserClientIsServedForEveryRoomAndNothingElse() async throws {
        let server = try await TestServer.start()
        for path in ["/", "/room/kitchen", "/room/kitchen/"] {
            let page = try await RawSocket.get(path, port: server.port)
            #expect(page.hasPrefix("HTTP/1.1 200"), "\(path)")
            #expect(page.contains("<script src=\"/assets/client.js\"></script>"), "\(path)")
        }
        let script = try await RawSocket.get("/assets/client.js", port: server.port)
        #expect(script.lowercased().contains("content-type: text/javascript"))
        #expect(script.contains("send_aswer"))
        #expect(try await RawSocket.get("/assets/client.css", port: server.port).lowercased().contains("content-type: text/css"))
        for path in ["/room/a/b", "/room/", "/nothing", "/assets/nothing.js"] {
            #expect(try await RawSocket.get(path, port: server.port).hasPrefix("HTTP/1.1 404"), "\(path)")
        }
        try await server.stop()
    }

    @Test func shutdownClosesEverySocketWithGoingAway() async throws {
        let server = try await TestServer.start()
        let alice = try await TestClient.join(server.url, id: "alice")
        let idle = try await TestClient.connect(server.url + "/room/x")
        try await server.stop()
        #expect(try await alice.closedByServer()?.closeCode == .goingAway)
        #expect(try await idle.closedByServer()?.closeCode == .goingAway)
    }
}
