import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// `--ice-address` and `--ice-ports`, as a peer sees them: in the candidates the gateway trickles.
@Suite(.serialized)
struct IceTests {
    @Test func candidatesUseOnlyTheGivenAddressAndPorts() async throws {
        try await Call.run { call in
            // A bare protocol client in the room: the gateway, joining after it, offers to it.
            let watcher = try await TestClient.join(call.url, id: "watcher")
            _ = try await call.join("gateway", record: false) { $0.icePorts = 47000...47009 }
            _ = try await watcher.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            var candidates: [String] = []
            while let message = try? await watcher.next(where: { $0.type == .newCandidate }, within: .seconds(2)) {
                candidates.append(message.ice?.candidate ?? "")
            }
            #expect(candidates.contains { $0.uppercased().contains(" UDP ") }, "\(candidates)")
            for candidate in candidates {
                // candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ...
                let fields = candidate.split(separator: " ").map(String.init)
                try #require(fields.count >= 8, "\(candidate)")
                #expect(fields[4] == "127.0.0.1", "\(candidate)")
                // ICE-TCP's active candidates carry the placeholder port 9.
                if fields[2].uppercased() == "UDP" {
                    #expect((47000...47009).contains(Int(fields[5]) ?? 0), "\(candidate)")
                }
            }
            await watcher.close()
        }
    }

    /// TCP candidates by default (what gets through a firewall that drops UDP: NetworkTests
    /// shows a call over them); none with `--no-ice-tcp`.
    @Test(arguments: [true, false])
    func tcpCandidatesComeUnlessTurnedOff(tcp: Bool) async throws {
        try await Call.run { call in
            let watcher = try await TestClient.join(call.url, id: "watcher")
            _ = try await call.join("gateway", record: false) { $0.iceTCP = tcp }
            _ = try await watcher.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            var candidates: [String] = []
            while let message = try? await watcher.next(where: { $0.type == .newCandidate }, within: .seconds(2)) {
                candidates.append(message.ice?.candidate.uppercased() ?? "")
            }
            #expect(candidates.contains { $0.contains(" UDP ") }, "\(candidates)")
            #expect(candidates.contains { $0.contains(" TCP ") } == tcp, "\(candidates)")
            await watcher.close()
        }
    }

    /// A browser without camera permission sends mDNS names: a machine without nss-mdns
    /// cannot resolve them, and the log says what to do, once per peer.
    @Test func mdnsCandidatesThatCannotBeResolvedAreLoggedOnce() async throws {
        try await Call.run { call in
            let page = try await TestClient.join(call.url, id: "page")
            let gateway = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "gateway", "--ice-address", "127.0.0.1",
                                               "--video", "test", "--audio", "none", "--size", "320x240"])
            defer { gateway.signal(SIGKILL) }
            _ = try await page.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            for name in ["1f0c3a2b-9d7e-4b8f-a1c2-6e5d4c3b2a19.local", "77aa3a2b-9d7e-4b8f-a1c2-6e5d4c3b2a19.local"] {
                let ice = IceCandidate(candidate: "candidate:1 1 udp 2122260223 \(name) 54321 typ host", sdpMid: "video0", sdpMLineIndex: 0)
                page.send(Message(type: .newCandidate, id: "page", targetId: "gateway", ice: ice))
            }
            let nsswitch = (try? String(contentsOfFile: "/etc/nsswitch.conf", encoding: .utf8)) ?? ""
            let resolves = nsswitch.split(separator: "\n").contains { $0.hasPrefix("hosts:") && $0.contains("mdns") }
            try await Task.sleep(for: .seconds(1))
            let warnings = gateway.stderr.components(separatedBy: "mDNS name this machine cannot resolve").count - 1
            #expect(warnings == (resolves ? 0 : 1), "\(gateway.stderr)")
            #expect(gateway.stderr.contains("libnss-mdns") != resolves)
            await page.close()
        }
    }

    /// `--turn` against a real TURN server (coturn) on loopback: the gateway allocates a relay
    /// and offers it as a candidate.
    @Test func aTurnServerGivesARelayCandidate() async throws {
        let turn = Process()
        turn.executableURL = URL(fileURLWithPath: "/usr/bin/turnserver")
        turn.arguments = ["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port=34780",
                          "--min-port=49160", "--max-port=49200", "--user=meshgate:s3cret", "--realm=meshgate", "--lt-cred-mech",
                          "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--log-file=stdout"]
        turn.standardOutput = FileHandle.nullDevice
        turn.standardError = FileHandle.nullDevice
        try turn.run()
        defer { turn.terminate() }
        try await Call.run { call in
            let watcher = try await TestClient.join(call.url, id: "watcher")
            _ = try await call.join("gateway", record: false) { $0.turnServers = ["turn://meshgate:s3cret@127.0.0.1:34780"] }
            let relay = try await watcher.next(where: { $0.type == .newCandidate && $0.ice?.candidate.contains(" typ relay") == true },
                                               within: .seconds(15))
            // candidate:F C UDP PRIORITY 127.0.0.1 PORT typ relay ..., PORT from coturn's relay range
            let fields = (relay.ice?.candidate ?? "").split(separator: " ").map(String.init)
            #expect(fields.count > 5 && (49160...49200).contains(Int(fields[5]) ?? 0), "\(fields)")
            await watcher.close()
        }
    }
}
