import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// `meshgate serve --redis` processes sharing rooms through a real redis-server on loopback:
/// a server killed outright, and a crowd joining and leaving across three.
@Suite(.serialized)
struct ServerClusterTests {
    /// A `meshgate serve --redis` on a free loopback port, and its WebSocket URL.
    static func serve(_ redis: RedisServer, _ arguments: [String] = []) async throws -> (process: MeshgateProcess, url: String) {
        let served = try MeshgateProcess(["serve", "--host", "127.0.0.1", "--port", "0"] + redis.serveArguments + arguments)
        let port = try await MetricsTests.port(in: served, after: "url=ws://127.0.0.1:")
        return (served, "ws://127.0.0.1:\(port)")
    }

    /// kill -9 of a server: its users are announced gone on the others within the lease
    /// (6 s, well under 10), and their ids are free again; the same with the servers reaching
    /// Redis over TLS (`rediss://`, `--redis-ca`, a client certificate).
    @Test(arguments: [false, true])
    func aKilledServersUsersLeaveWithinItsLease(tls: Bool) async throws {
        let redis = try await RedisServer.start(tls: tls ? TestAuthority.make() : nil)
        let (one, oneURL) = try await Self.serve(redis)
        let (two, twoURL) = try await Self.serve(redis)
        let stayer = try await TestClient.join(oneURL + "/room/k", id: "stayer")
        _ = try await TestClient.join(twoURL + "/room/k", id: "doomed")
        _ = try await stayer.next(where: { $0.type == .connectionList && $0.newUserId == "doomed" })
        two.signal(SIGKILL)
        let killedAt = ContinuousClock.now
        let rest = try await stayer.next(where: { $0.type == .restConnectionList }, within: .seconds(10))
        #expect(rest.list?.keys.sorted() == ["stayer"])
        #expect(ContinuousClock.now - killedAt < .seconds(10))
        _ = try await TestClient.join(oneURL + "/room/k", id: "doomed")
        one.signal(SIGTERM)
        #expect(try await one.exitCode() == 0, "\(one.stderr)")
    }

    /// A gateway on one server and Chromium on another see and hear each other: the
    /// signalling between them went through Redis.
    @Test func aGatewayAndChromiumOnTwoServersSeeAndHearEachOther() async throws {
        let redis = try await RedisServer.start()
        try await Call.run(redis: redis) { call, other in
            let browser = try call.open(.chromium, id: "browser")
            try await browser.waitUntil("registered") { $0.registered }
            // Not the call's own server: the call does not end this gateway for the test.
            let gateway = try await TestGateway.join(other.url + "/", id: "gw")
            do {
                _ = try await browser.waitUntil("video at 320x240 and audio from gw") { $0.receives(from: "gw", width: 320, height: 240) }
                try await gateway.waitForMedia(from: ["browser"])
            } catch {
                try? await gateway.leave()
                throw error
            }
            try await gateway.leave()
        }
    }

    /// A hub room whose participants are on two servers has one hub, on one of them (claimed
    /// through Redis), and gateways on both servers get its picture and sound. Its server
    /// killed, or stopped as systemd stops it, the other server takes the room over (once
    /// the lease ran out, or was given back), and the gateway left on it gets the new hub's media.
    @Test(arguments: [SIGKILL, SIGTERM])
    func aHubRoomOverTwoServersHasOneHubThatMovesWhenItsServerGoes(signal: Int32) async throws {
        let redis = try await RedisServer.start()
        let hubbing = HubTests.serving
        let servers = [try await Self.serve(redis, hubbing), try await Self.serve(redis, hubbing)]
        let watcher = try await TestClient.join(servers[0].url + HubTests.room, id: "watcher")
        let hubList = try await watcher.next(where: { $0.type == .connectionList && $0.newUserId == "hub" }, within: .seconds(20))
        #expect(hubList.list?.keys.sorted() == ["hub", "watcher"])
        let gateways = [try await TestGateway.join(servers[0].url + HubTests.room, id: "near"),
                        try await TestGateway.join(servers[1].url + HubTests.room, id: "far")]
        do {
            for gateway in gateways { try await gateway.waitForMedia(from: ["hub"]) }
            let started = servers.map { $0.process.stderr.components(separatedBy: "hub starting").count - 1 }
            try #require(started.sorted() == [0, 1], "hubs started on each server: \(started)")
            let holder = started[0] == 1 ? 0 : 1
            servers[holder].process.signal(signal)
            let survivor = gateways[1 - holder]
            try await eventually("the dead server's hub to be gone", within: .seconds(15)) { try await survivor.snapshot().peers.isEmpty ? true : nil }
            try await survivor.waitForMedia(from: ["hub"], within: .seconds(30))
            #expect(servers[1 - holder].process.stderr.contains("hub starting"))
        } catch {
            for gateway in gateways { try? await gateway.leave() }
            throw error
        }
        for gateway in gateways { try? await gateway.leave() }
        for server in servers where server.process.isRunning {
            server.process.signal(SIGTERM)
            #expect(try await server.process.exitCode() == 0, "\(server.process.stderr.suffix(2000))")
        }
    }

    /// 100 clients join over three servers at once, half of them leave at once: every client
    /// left holds the same list, the one the room really has.
    @Test func aCrowdOverThreeServersAgreesOnTheRoom() async throws {
        let redis = try await RedisServer.start()
        var servers: [(process: MeshgateProcess, url: String)] = []
        // A room of 100 (64 is the default most).
        for _ in 0..<3 { servers.append(try await Self.serve(redis, ["--max-room-size", "100"])) }
        let urls = servers.map { $0.url + "/room/crowd" }
        let clients = try await withThrowingTaskGroup(of: (Int, TestClient).self) { group in
            for index in 0..<100 {
                group.addTask { (index, try await TestClient.join(urls[index % 3], id: "user\(index)")) }
            }
            return try await group.reduce(into: [Int: TestClient]()) { $0[$1.0] = $1.1 }
        }
        await withTaskGroup(of: Void.self) { group in
            for index in stride(from: 0, to: 100, by: 2) {
                group.addTask { await clients[index]?.close() }
            }
        }
        let expected = stride(from: 1, to: 100, by: 2).map { "user\($0)" }.sorted()
        for index in stride(from: 1, to: 100, by: 2) {
            guard let client = clients[index] else { continue }
            // The last list each client was sent is the room as it is.
            let view = try await eventually("user\(index)'s list to settle", within: .seconds(20)) { () -> [String]? in
                let lists = client.pending.compactMap { try? Message.decode($0) }.filter { $0.type == .connectionList || $0.type == .restConnectionList }
                let last = lists.last?.list?.keys.sorted()
                return last == expected ? last : nil
            }
            #expect(view == expected)
        }
        for server in servers {
            server.process.signal(SIGTERM)
            #expect(try await server.process.exitCode() == 0, "\(server.process.stderr)")
        }
    }

    /// TLS options that cannot work are usage errors, said before anything starts.
    @Test(arguments: [
        (["--redis", "rediss://localhost:1", "--redis-cert", "/etc/hostname"], "--redis-cert and --redis-key go together"),
        (["--redis", "redis://localhost:1", "--redis-ca", "/etc/hostname"], "--redis-ca is for --redis rediss://… (TLS) only"),
        (["--redis-ca", "/etc/hostname"], "--redis-ca is for --redis rediss://… (TLS) only"),
        (["--redis", "rediss://localhost:1", "--redis-ca", "/nonexistent/ca.pem"], "--redis-ca '/nonexistent/ca.pem' is not a readable file"),
    ])
    func aBadRedisTLSOptionIsAUsageError(arguments: [String], message: String) async throws {
        let result = try await MeshgateProcess.run(["serve", "--port", "0"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// A Redis whose certificate is not trusted (no --redis-ca for its private authority):
    /// the server does not start, and says why.
    @Test func anUntrustedRedisIsRefusedAtStart() async throws {
        let authority = try TestAuthority.make()
        defer { authority.remove() }
        let redis = try await RedisServer.start(tls: authority)
        let result = try await MeshgateProcess.run(["serve", "--port", "0", "--redis", redis.url,
                                                    "--redis-cert", authority.clientCertificate, "--redis-key", authority.clientKey])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--redis: cannot reach Redis at \(redis.url)/0: the TLS handshake with Redis failed: Redis's certificate is not signed by an authority trusted here"),
                "stderr: \(result.stderr)")
    }
}
