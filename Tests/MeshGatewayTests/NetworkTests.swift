import Foundation
import MeshTestSupport
import Testing

/// Calls between hosts on networks of their own (``TestNetwork``): each gateway a process in
/// its host's namespace, the server in the test's, which routes between the hosts.
@Suite(.serialized)
struct NetworkTests {
    @Test func aCallAcrossHostsConnectsOnTheHostsOwnAddresses() async throws {
        let network = try TestNetwork(hosts: 2)
        let (a, b) = (network.hosts[0], network.hosts[1])
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            let sender = try network.run(on: a, Self.sending(call, from: a, id: "a"))
            defer { sender.signal(SIGKILL) }
            let receiver = try network.run(on: b, Self.receiving(call, from: b, id: "b"))
            defer { receiver.signal(SIGKILL) }
            let pair = try await Self.waitForVideo(in: receiver, from: "a", sender: sender)
            #expect(pair.local.hasPrefix("host \(b.address):") && pair.remote.hasPrefix("host \(a.address):"), "\(pair)")
            #expect(!pair.relay)
        }
    }

    /// Host B is behind the router's NAT; a TURN server runs on a third, public, host. With
    /// `--ice-transport relay` B uses only what the TURN server relays.
    @Test func behindNATTheCallGoesThroughTheTURNServer() async throws {
        let network = try TestNetwork(hosts: 3, natted: [2])
        let (a, b, server) = (network.hosts[0], network.hosts[1], network.hosts[2])
        let turn = try network.run(on: server, [
            "-n", "--listening-ip=\(server.address)", "--relay-ip=\(server.address)", "--listening-port=3478", "--min-port=49160", "--max-port=49200",
            "--user=meshgate:s3cret", "--realm=meshgate", "--lt-cred-mech", "--no-tls", "--no-dtls", "--no-cli", "--log-file=stdout",
        ], executable: "/usr/bin/turnserver")
        defer { turn.signal(SIGKILL) }
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            let sender = try network.run(on: a, Self.sending(call, from: a, id: "a"))
            defer { sender.signal(SIGKILL) }
            let receiver = try network.run(on: b, Self.receiving(call, from: b, id: "b", [
                "--turn", "turn://meshgate:s3cret@\(server.address):3478", "--ice-transport", "relay",
            ]))
            defer { receiver.signal(SIGKILL) }
            let pair = try await Self.waitForVideo(in: receiver, from: "a", sender: sender)
            #expect(pair.relay && pair.local.hasPrefix("relay \(server.address):"), "\(pair)")
        }
    }

    /// The sender is behind a 1:1 NAT (a cloud VM, a container with published ports): the
    /// router forwards a public address to it and lets nothing else in. With
    /// `--public-address` the receiver reaches it there, host to host.
    @Test func behindOneToOneNATThePublicAddressIsReached() async throws {
        let network = try TestNetwork(hosts: 2, natted: [2])
        let (a, b) = (network.hosts[0], network.hosts[1])
        let published = "10.0.1.100"
        try network.forward(published, on: a, to: b)
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            let sender = try network.run(on: b, Self.sending(call, from: b, id: "b", ["--public-address", published]))
            defer { sender.signal(SIGKILL) }
            let receiver = try network.run(on: a, Self.receiving(call, from: a, id: "a"))
            defer { receiver.signal(SIGKILL) }
            let pair = try await Self.waitForVideo(in: receiver, from: "b", sender: sender)
            #expect(pair.remote.hasPrefix("host \(published):") && !pair.relay, "\(pair)")
        }
    }

    /// A firewall between the hosts drops UDP: ICE pairs the TCP candidates libnice gathers
    /// as well, and media flows over TCP.
    @Test func withUDPBlockedTheCallGoesOverTCP() async throws {
        let network = try TestNetwork(hosts: 2)
        try network.dropUDP()
        let (a, b) = (network.hosts[0], network.hosts[1])
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            let sender = try network.run(on: a, Self.sending(call, from: a, id: "a"))
            defer { sender.signal(SIGKILL) }
            let receiver = try network.run(on: b, Self.receiving(call, from: b, id: "b"))
            defer { receiver.signal(SIGKILL) }
            let pair = try await Self.waitForVideo(in: receiver, from: "a", sender: sender)
            #expect(pair.protocolName == "tcp" && pair.local.contains(b.address) && pair.remote.contains(a.address), "\(pair)")
        }
    }

    /// A gateway sending the test pattern and tone, with no `--ice-address`.
    static func sending(_ call: Call, from host: TestNetwork.Host, id: String, _ extra: [String] = []) -> [String] {
        ["join", "--server", "ws://\(host.router):\(call.port)/", "--id", id, "--video", "test", "--audio", "test",
         "--size", "320x240", "--fps", "15", "--bitrate", "300"] + extra
    }

    /// A gateway that only receives and prints `--stats` lines twice a second.
    static func receiving(_ call: Call, from host: TestNetwork.Host, id: String, _ extra: [String] = []) -> [String] {
        ["join", "--server", "ws://\(host.router):\(call.port)/", "--id", id, "--video", "none", "--audio", "none", "--stats", "0.5"] + extra
    }

    struct Pair: CustomStringConvertible {
        let local: String
        let remote: String
        let relay: Bool
        let protocolName: String
        var description: String { "\(local) -> \(remote) over \(protocolName)\(relay ? ", relayed" : "")" }
    }

    /// Waits until `receiver`'s `--stats` say video from `peer` decodes, and returns the
    /// candidate pair it flows over.
    static func waitForVideo(in receiver: MeshgateProcess, from peer: String, sender: MeshgateProcess, frames: Int = 20,
                             within limit: Duration = .seconds(30)) async throws -> Pair {
        do {
            return try await waitForVideo(receiver, peer, frames, limit)
        } catch {
            throw Timeout(description: "\(error)\nreceiver's log:\n\(receiver.stderr.suffix(4000))\nits statistics:\n\(receiver.stdout.suffix(400))"
                + "\nsender's log:\n\(sender.stderr.suffix(4000))")
        }
    }

    private static func waitForVideo(_ receiver: MeshgateProcess, _ peer: String, _ frames: Int, _ limit: Duration) async throws -> Pair {
        try await eventually("\(frames) frames from \(peer)", within: limit) { () throws -> Pair? in
            guard receiver.isRunning else { throw Timeout(description: "the receiver exited: \(receiver.stderr.suffix(1500))") }
            guard let line = statistics(in: receiver.stdout, of: peer), (line["frames_in"] as? Int ?? 0) >= frames,
                  let pair = line["candidate_pair"] as? [String: Any] else { return nil }
            return Pair(local: pair["local"] as? String ?? "", remote: pair["remote"] as? String ?? "",
                        relay: pair["relay"] as? Bool ?? false, protocolName: pair["protocol"] as? String ?? "")
        }
    }

    /// The latest `--stats` line about `peer`.
    static func statistics(in stdout: String, of peer: String) -> [String: Any]? {
        stdout.split(separator: "\n").reversed().lazy.compactMap { line -> [String: Any]? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["peer"] as? String == peer else { return nil }
            return object
        }.first
    }
}
