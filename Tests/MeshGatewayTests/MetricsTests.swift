import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// `--metrics`: the series a Prometheus server scrapes from `serve` and from `join`, and that
/// they move as a call proceeds.
@Suite(.serialized)
struct MetricsTests {
    /// Two clients in a room: the gauges count them, each relayed candidate counts exactly
    /// once, a refused frame counts under its code, and a room's series goes when it empties.
    @Test func serveCountsSocketsRoomsAndEveryMessageItRelays() async throws {
        let served = try MeshgateProcess(["serve", "--host", "127.0.0.1", "--port", "0", "--metrics", "127.0.0.1:0",
                                          "--max-connections-per-address", "3"])
        let port = try await Self.port(in: served, after: "url=ws://127.0.0.1:")
        let metrics = try await Scrape(port: Self.port(in: served, after: "url=http://127.0.0.1:"))
        let url = "ws://127.0.0.1:\(port)/room/m"
        let a = try await TestClient.join(url, id: "a")
        let b = try await TestClient.join(url, id: "b")
        _ = try await a.next { $0.type == .connectionList && $0.list?.count == 2 }

        let before = try await metrics.read()
        #expect(before["meshgate_server_sockets_open"] == 2)
        #expect(before["meshgate_server_connections_open"] == 2)
        #expect(before["meshgate_server_rooms"] == 1)
        #expect(before[#"meshgate_server_room_users{room="/room/m"}"#] == 2)
        #expect(before.keys.allSatisfy { !$0.contains(#""a""#) && !$0.contains(#""b""#) }, "a metric names a user")

        let sent = 7
        for index in 0..<sent {
            a.send(Message(type: .newCandidate, id: "a", targetId: "b", ice: IceCandidate(candidate: "candidate:\(index) 1 UDP 1 127.0.0.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0)))
        }
        for _ in 0..<sent { _ = try await b.next { $0.type == .newCandidate } }
        a.send("not json")
        _ = try await a.next { $0.type == .error }

        let after = try await metrics.read()
        #expect(after.delta(#"meshgate_server_messages_relayed_total{type="new_candidate"}"#, since: before) == Double(sent))
        #expect(after.delta(#"meshgate_server_messages_refused_total{code="invalid_json"}"#, since: before) == 1)
        #expect(after.delta("meshgate_server_relay_latency_seconds_count", since: before) >= Double(sent))
        #expect(after.delta("meshgate_server_received_bytes_total", since: before) > Double(sent * 80))
        #expect(after.delta("meshgate_server_sent_bytes_total", since: before) > Double(sent * 80))

        // One place is left for this address: the next connection takes it, the one after is
        // refused. (Both go before the server stops, which would wait for their requests.)
        do {
            let third = try RawSocket(port: port)
            // Accepted connections are set up on several threads: the fourth must come after.
            try await eventually("the third to be counted") { () async throws -> Bool? in
                try await metrics.read()["meshgate_server_connections_open"] == 3 ? true : nil
            }
            let fourth = try RawSocket(port: port)
            #expect(await onThread { fourth.isClosedByServer(within: 5) })
            let limited = try await metrics.read()
            #expect(limited["meshgate_server_connections_open"] == 3)
            #expect(limited.delta(#"meshgate_server_connections_refused_total{reason="per_address"}"#, since: before) == 1)
            _ = third
        }

        await a.close()
        _ = try await b.next { $0.type == .restConnectionList }
        #expect(try await metrics.read()[#"meshgate_server_room_users{room="/room/m"}"#] == 1)
        await b.close()
        try await eventually("the room's series to go") { () async throws -> Bool? in
            let now = try await metrics.read()
            return now["meshgate_server_rooms"] == 0 && now[#"meshgate_server_room_users{room="/room/m"}"#] == nil ? true : nil
        }
        served.signal(SIGTERM)
        #expect(try await served.exitCode() == 0)
    }

    /// A gateway's metrics of its peer: frames in grow between scrapes, bytes flow both ways,
    /// the connection is `connected`, its encoder runs and its source plays; once the peer
    /// leaves, no series names it.
    @Test func joinShowsEachPeersTrafficAndDropsItWhenThePeerLeaves() async throws {
        try await Call.run { call in
            let joined = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "watched", "--video", "test", "--audio", "test",
                                              "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--metrics", "127.0.0.1:0"])
            let metrics = try await Scrape(port: Self.port(in: joined, after: "url=http://127.0.0.1:"))
            let other = try await call.join("other", record: false)
            let peer = #"peer="other""#
            let first = try await eventually("frames from the peer in the metrics", within: .seconds(20)) { () async throws -> Scrape.Values? in
                let values = try await metrics.read()
                return values["meshgate_peer_frames_received_total{\(peer)}", default: 0] > 0 ? values : nil
            }
            let second = try await eventually("more frames, and traffic both ways", within: .seconds(20)) { () async throws -> Scrape.Values? in
                let values = try await metrics.read()
                return values.delta("meshgate_peer_frames_received_total{\(peer)}", since: first) > 0
                    && values["meshgate_peer_received_kbps{\(peer)}", default: 0] > 10 && values["meshgate_peer_sent_kbps{\(peer)}", default: 0] > 10 ? values : nil
            }
            #expect(second[#"meshgate_peer_state{peer="other",state="connected"}"#] == 1)
            #expect(second[#"meshgate_peer_state{peer="other",state="failed"}"#] == 0)
            #expect(second["meshgate_peer_packets_lost{\(peer)}"] != nil)
            #expect(second[#"meshgate_encoder_running{codec="vp8"}"#] == 1)
            #expect(second["meshgate_encoder_keyframes_total", default: 0] >= 1)
            #expect(second[#"meshgate_source_state{kind="video",state="playing"}"#] == 1)
            #expect(second[#"meshgate_source_state{kind="audio",state="lost"}"#] == 0)

            try await other.leave()
            try await eventually("the peer's series to go", within: .seconds(10)) { () async throws -> Bool? in
                try await metrics.read().keys.contains { $0.contains(peer) } ? nil : true
            }
            joined.signal(SIGTERM)
            #expect(try await joined.exitCode() == 0)
        }
    }

    @Test(arguments: ["9100", "127.0.0.1", "127.0.0.1:99999", "metrics.example:9100"])
    func aBadMetricsAddressIsRefused(_ address: String) async throws {
        let run = try await MeshgateProcess.run(["serve", "--metrics", address])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--metrics"), "\(run.stderr)")
    }

    /// The port a `meshgate` process printed after `prefix` in its log.
    static func port(in process: MeshgateProcess, after prefix: String) async throws -> Int {
        try await eventually("meshgate to listen", within: .seconds(20)) { () -> Int? in
            guard process.isRunning else { throw Timeout(description: "meshgate exited: \(process.stderr)") }
            let log = process.stderr
            return log.firstRange(of: prefix).flatMap { Int(log[$0.upperBound...].prefix { $0.isNumber }) }
        }
    }
}

/// Reads `/metrics` as Prometheus does, into one value per series (`name{labels}`).
struct Scrape {
    typealias Values = [String: Double]
    let port: Int

    func read() async throws -> Values {
        let response = try await RawSocket.get("/metrics", port: port)
        guard response.hasPrefix("HTTP/1.1 200"), let head = response.firstRange(of: "\r\n\r\n") else {
            throw Timeout(description: "GET /metrics answered: \(response.prefix(200))")
        }
        var values: Values = [:]
        for line in response[head.upperBound...].split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }
}

extension Scrape.Values {
    func delta(_ series: String, since earlier: Self) -> Double {
        self[series, default: 0] - earlier[series, default: 0]
    }
}
