import MeshTestSupport
import Redis
import Testing

/// `serve --redis URL`: what the URL may say, and one connection through hiredis to a real
/// redis-server on loopback.
struct RedisAddressTests {
    @Test func aURLGivesHostPortPasswordAndDatabase() throws {
        #expect(try RedisAddress("redis://cache.internal") == RedisAddress(host: "cache.internal"))
        #expect(try RedisAddress("redis://:s3cret@10.0.0.5:6380/2") == RedisAddress(host: "10.0.0.5", port: 6380, password: "s3cret", database: 2))
        #expect(try RedisAddress("redis://meshgate:p%40ss@[::1]:7000") == RedisAddress(host: "::1", port: 7000, user: "meshgate", password: "p@ss"))
        #expect(try RedisAddress("rediss://redis.example:6390/1").tls)
        // Logs and errors never show the password.
        #expect(try RedisAddress("redis://:s3cret@10.0.0.5:6380/2").description == "redis://:***@10.0.0.5:6380/2")
        #expect(try RedisAddress("redis://[::1]").description == "redis://[::1]:6379/0")
    }

    @Test(arguments: [
        ("http://cache:6379", "'http://' is not Redis"),
        ("redis://", "names no host"),
        ("redis://cache/db", "'/db' is not a database number"),
        ("redis://cache:70000", "port 70000 is not a TCP port"),
        ("redis://cache?timeout=1", "takes no query"),
        ("cache:6379", "is not Redis"),
    ])
    func aURLItCannotTakeSaysWhy(url: String, reason: String) {
        #expect(throws: RedisError.self) { try RedisAddress(url) }
        do {
            _ = try RedisAddress(url)
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test func aPasswordInABadURLIsMasked() {
        do {
            _ = try RedisAddress("redis://:s3cret@cache/db")
            Issue.record("a database that is not a number was taken")
        } catch {
            #expect(!error.description.contains("s3cret"), "\(error)")
        }
    }
}

@Suite(.serialized)
struct RedisConnectionTests {
    /// Commands and their replies in order, pipelined or not, text of any language intact;
    /// a refused command is a reply, not a lost connection.
    @Test func aConnectionRunsCommandsInOrder() async throws {
        let server = try await RedisServer.start(password: "s3cret")
        let connection = try RedisConnection(RedisAddress(server.url))
        #expect(try connection.run(["SET", "greeting", "grüß dich, 世界 👋"]) == .status("OK"))
        #expect(try connection.run(["GET", "greeting"]) == .string("grüß dich, 世界 👋"))
        #expect(try connection.run(["GET", "nothing"]) == .null)
        for value in 1...3 { try connection.send(["RPUSH", "list", String(value)]) }
        #expect(try [connection.next(), connection.next(), connection.next()] == [.integer(1), .integer(2), .integer(3)])
        #expect(try connection.run(["LRANGE", "list", "0", "-1"]) == .array([.string("1"), .string("2"), .string("3")]))
        guard case .error(let refusal) = try connection.run(["INCR", "greeting"]) else {
            Issue.record("INCR of a text was not refused")
            return
        }
        #expect(refusal.contains("not an integer"), "\(refusal)")
        #expect(try connection.run(["PING"]) == .status("PONG"))
    }

    /// An ACL user (`redis://USER:PASSWORD@…`) signs in as that user.
    @Test func anACLUserSignsIn() async throws {
        let server = try await RedisServer.start(password: "s3cret", options: ["--user", "meshgate", "on", ">p4ss", "~meshgate:*", "+@all"])
        let connection = try RedisConnection(RedisAddress("redis://meshgate:p4ss@127.0.0.1:\(server.port)"))
        #expect(try connection.run(["ACL", "WHOAMI"]) == .string("meshgate"))
        #expect(try connection.run(["SET", "meshgate:x", "1"]) == .status("OK"))
        guard case .error(let refusal) = try connection.run(["SET", "elsewhere", "1"]) else {
            Issue.record("a key outside the user's pattern was written")
            return
        }
        #expect(refusal.contains("NOPERM"), "\(refusal)")
    }

    /// Each way a connection fails says what happened and where, the password masked.
    @Test func aConnectionThatCannotWorkSaysWhy() async throws {
        let server = try await RedisServer.start(password: "s3cret")
        do {
            _ = try RedisConnection(RedisAddress("redis://:wrong@127.0.0.1:\(server.port)"))
            Issue.record("a wrong password was taken")
        } catch {
            #expect(error.description.contains("refused the password") && !error.description.contains("wrong"), "\(error)")
        }
        do {
            _ = try RedisConnection(RedisAddress("rediss://127.0.0.1:\(server.port)"))
            Issue.record("rediss:// to a Redis without TLS was taken")
        } catch {
            #expect(error.description.contains("cannot reach Redis at rediss://127.0.0.1:\(server.port)/0: the TLS handshake with Redis failed: no answer within"), "\(error)")
        }
        let connection = try RedisConnection(RedisAddress(server.url))
        server.stop()
        do {
            _ = try connection.run(["PING"])
            Issue.record("a killed server answered")
        } catch {
            #expect(error.description.contains("lost Redis at redis://:***@127.0.0.1:\(server.port)/0"), "\(error)")
        }
        do {
            _ = try RedisConnection(RedisAddress(server.url))
            Issue.record("a killed server took a connection")
        } catch {
            #expect(error.description.contains("cannot reach Redis at redis://:***@127.0.0.1:\(server.port)/0: Connection refused"), "\(error)")
        }
        // Back on the same port, as after a restart.
        try await server.start()
        #expect(try RedisConnection(RedisAddress(server.url)).run(["PING"]) == .status("PONG"))
    }

    /// `rediss://`: the same commands over TLS, a reply far larger than one TLS record both
    /// ways, Redis's certificate checked against our authority, ours shown to it.
    @Test func aConnectionOverTLSRunsCommands() async throws {
        let authority = try TestAuthority.make()
        defer { authority.remove() }
        let server = try await RedisServer.start(password: "s3cret", tls: authority)
        let connection = try RedisConnection(try server.address)
        #expect(try connection.run(["PING"]) == .status("PONG"))
        let large = String(repeating: "grüß dich, 世界 👋 ", count: 100_000)
        #expect(try connection.run(["SET", "large", large]) == .status("OK"))
        for _ in 1...3 { try connection.send(["GET", "large"]) }
        #expect(try [connection.next(), connection.next(), connection.next()] == Array(repeating: .string(large), count: 3))
        server.stop()
        do {
            _ = try connection.run(["PING"])
            Issue.record("a killed server answered over TLS")
        } catch {
            #expect(error.description.contains("lost Redis at rediss://:***@localhost:\(server.port)/0"), "\(error)")
        }
        try await server.start()
        #expect(try RedisConnection(try server.address).run(["PING"]) == .status("PONG"))
    }

    /// Each TLS problem is said as such: a certificate no trusted authority signed, one for
    /// another name, no client certificate where Redis asks for one, files that are not there.
    @Test func aTLSConnectionThatCannotWorkSaysWhy() async throws {
        let authority = try TestAuthority.make()
        defer { authority.remove() }
        let server = try await RedisServer.start(tls: authority)
        let trusted = RedisTLSFiles(authority: authority.authority, certificate: authority.clientCertificate, key: authority.clientKey)
        func failure(_ url: String, _ files: RedisTLSFiles) -> String {
            var address: RedisAddress
            do { address = try RedisAddress(url) } catch { return "bad URL \(error)" }
            address.tlsFiles = files
            do {
                _ = try RedisConnection(address).run(["PING"])
                return "connected"
            } catch {
                return error.description
            }
        }
        let url = "rediss://localhost:\(server.port)"
        var untrusted = trusted
        untrusted.authority = nil
        let unsigned = failure(url, untrusted)
        #expect(unsigned.contains("certificate is not signed by an authority trusted here"), "\(unsigned)")
        let byAddress = failure("rediss://127.0.0.1:\(server.port)", trusted)
        #expect(byAddress.contains("Redis's certificate is not for 127.0.0.1"), "\(byAddress)")
        // TLS 1.3 refuses a missing client certificate after the handshake: at the first command.
        let anonymous = failure(url, RedisTLSFiles(authority: authority.authority))
        #expect(anonymous.contains("Redis asks for a client certificate and none was given"), "\(anonymous)")
        server.stop()
        #expect(failure(url, trusted) == "cannot reach Redis at \(url)/0: Connection refused")
        try await server.start()
        var missing = trusted
        missing.authority = authority.folder + "/none.pem"
        #expect(failure(url, missing).contains("cannot read the certificate authority file \(authority.folder)/none.pem"))
        var halfClient = trusted
        halfClient.key = nil
        #expect(failure(url, halfClient).contains("needs both its certificate and its key"))
        #expect(failure(url, trusted) == "connected")
    }
}
