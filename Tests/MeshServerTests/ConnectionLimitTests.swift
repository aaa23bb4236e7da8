import Foundation
import Testing
import MeshTestSupport
@testable import MeshServer

/// How many connections one host, and everyone, may hold open: the one over a limit is
/// closed as it comes, the others and other hosts go on, and a closed one frees its place.
@Suite struct ConnectionLimitTests {
    /// A socket the server took: its upgrade was answered.
    static func upgraded(_ port: Int, from source: String = "127.0.0.1", headers: [String] = []) throws -> (socket: RawSocket, head: String) {
        let socket = try RawSocket(port: port, from: source)
        return (socket, socket.upgrade(headers: headers))
    }

    @Test func aHostOverItsConnectionsIsClosedAsItConnects() async throws {
        let log = LogRecorder()
        let server = try await TestServer.start(logger: log.logger()) { $0.maxConnectionsPerAddress = 3 }
        var held = try (0..<3).map { _ in try Self.upgraded(server.port) }
        #expect(held.allSatisfy { $0.head.hasPrefix("HTTP/1.1 101") })

        for _ in 0..<2 {
            let over = try RawSocket(port: server.port)
            #expect(await onThread { over.isClosedByServer(within: 5) }, "the fourth connection from one address was kept")
        }
        let line = try await eventually("the refusal's log line") { log.lines.first { $0.message == "refused a connection" } }
        #expect(line.metadata["code"] == "too_many_connections_from_address" && line.metadata["address"] == "127.0.0.1", "\(line)")
        #expect(line.metadata["limit"] == "3 (--max-connections-per-address)")
        // One line for a burst of refusals, not one each.
        #expect(log.lines.filter { $0.message == "refused a connection" }.count == 1)

        // Another host is not held back by this one.
        let other = try Self.upgraded(server.port, from: "127.0.0.2")
        #expect(other.head.hasPrefix("HTTP/1.1 101"))
        // A connection that closes gives its place back.
        held.removeFirst()
        let again = try await eventually("a place for a new connection") { () throws -> (socket: RawSocket, head: String)? in
            let attempt = try Self.upgraded(server.port)
            return attempt.head.hasPrefix("HTTP/1.1 101") ? attempt : nil
        }
        held.append(again)
        // The refused and the closed are counted no more: three from here, one from there.
        try await eventually("the count of open connections") { server.server.connections.open == 4 ? true : nil }
        try await server.stop()
    }

    @Test func theServerOverItsConnectionsClosesTheNextOne() async throws {
        let server = try await TestServer.start { $0.maxConnections = 2 }
        let held = try [Self.upgraded(server.port), Self.upgraded(server.port, from: "127.0.0.2")]
        #expect(held.allSatisfy { $0.head.hasPrefix("HTTP/1.1 101") })
        #expect(server.server.connections.open == 2)
        let over = try RawSocket(port: server.port, from: "127.0.0.3")
        #expect(await onThread { over.isClosedByServer(within: 5) })
        try await server.stop()
    }

    /// Behind a trusted proxy every client shares the proxy's address: each is counted by the
    /// address the proxy added to X-Forwarded-For, the last one, and what a client wrote there
    /// itself changes nothing.
    @Test func aTrustedProxysClientsAreCountedByTheAddressItForwards() async throws {
        let server = try await TestServer.start {
            $0.maxConnectionsPerAddress = 2
            $0.trustedProxies = ["127.0.0.1"]
        }
        let first = ["X-Forwarded-For: 198.51.100.7"]
        var held = try (0..<2).map { _ in try Self.upgraded(server.port, headers: first) }
        #expect(held.allSatisfy { $0.head.hasPrefix("HTTP/1.1 101") })
        let over = try Self.upgraded(server.port, headers: first)
        #expect(over.head.hasPrefix("HTTP/1.1 429"), "\(over.head)")
        let claimed = try Self.upgraded(server.port, headers: ["X-Forwarded-For: 203.0.113.1, 198.51.100.7"])
        #expect(claimed.head.hasPrefix("HTTP/1.1 429"), "\(claimed.head)")

        held += try (0..<2).map { _ in try Self.upgraded(server.port, headers: ["X-Forwarded-For: 198.51.100.8"]) }
        #expect(held.allSatisfy { $0.head.hasPrefix("HTTP/1.1 101") })
        // Not through the proxy, a host is counted by its own address. (Closed before the
        // server stops, which would wait for their requests until the handshake timeout.)
        do {
            let direct = try (0..<2).map { _ in try RawSocket(port: server.port, from: "127.0.0.2") }
            // Accepted connections are set up on several threads: the third must come after.
            try await eventually("both to be counted") { server.server.connections.open(from: "127.0.0.2") == 2 ? true : nil }
            let third = try RawSocket(port: server.port, from: "127.0.0.2")
            #expect(await onThread { third.isClosedByServer(within: 5) })
            _ = direct
        }
        try await server.stop()
    }

    @Test func aClientIsKnownByItsIPv4AddressOrItsIPv6Slash64() {
        #expect(ConnectionLimits.key("192.0.2.1") == "192.0.2.1")
        #expect(ConnectionLimits.key("::ffff:192.0.2.1") == "192.0.2.1")
        #expect(ConnectionLimits.key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(ConnectionLimits.key("2001:DB8:1:2:bbbb::9") == "2001:db8:1:2::/64")
        #expect(ConnectionLimits.key("not an address") == nil)
        let limits = ConnectionLimits(.init(total: 10, perAddress: 1, trustedProxies: ["10.0.0.1"]))
        #expect(limits.client(inForwardedFor: ["203.0.113.5, 198.51.100.7, 10.0.0.1"]) == "198.51.100.7")
        #expect(limits.client(inForwardedFor: ["203.0.113.5", "198.51.100.7"]) == "198.51.100.7")
        #expect(limits.client(inForwardedFor: ["unknown"]) == nil)
        #expect(limits.client(inForwardedFor: []) == nil)
    }
}
