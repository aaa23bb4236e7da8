import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// Calls between hosts on networks of their own (``TestNetwork``): each gateway a process in
/// its host's namespace, the server in the test's, which routes between the hosts.
@Suite(.serialized)
struct NetworkTests {
    @Test func aCallAcrossHostsConnectsOnTheHostsOwnAddresses() async throws {
        let network = try TestNetwork(hosts: 2)
        let (a, b) = (network.hosts[0], network.hosts[1])
        try await Self.call(on: network, sender: a, receiver: b) { sender, receiver in
            let pair = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender)
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
        let relayOnly = ["--turn", "turn://meshgate:s3cret@\(server.address):3478", "--ice-transport", "relay"]
        try await Self.call(on: network, sender: a, receiver: b, relayOnly) { sender, receiver in
            let pair = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender)
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
        try await Self.call(on: network, sender: b, ["--public-address", published], receiver: a) { sender, receiver in
            let pair = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender)
            #expect(pair.remote.hasPrefix("host \(published):") && !pair.relay, "\(pair)")
        }
    }

    /// A firewall between the hosts drops UDP: ICE pairs the TCP candidates libnice gathers
    /// as well, and media flows over TCP.
    @Test func withUDPBlockedTheCallGoesOverTCP() async throws {
        let network = try TestNetwork(hosts: 2)
        try network.dropUDP()
        let (a, b) = (network.hosts[0], network.hosts[1])
        try await Self.call(on: network, sender: a, receiver: b) { sender, receiver in
            let pair = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender)
            #expect(pair.protocolName == "tcp" && pair.local.contains(b.address) && pair.remote.contains(a.address), "\(pair)")
        }
    }

    /// Host B's link goes down for 20 s mid-call, then comes back: media flows again within
    /// 10 s, nobody doing anything.
    @Test func aCallComesBackAfterTheNetworkDropsFor20Seconds() async throws {
        let network = try TestNetwork(hosts: 2)
        let (a, b) = (network.hosts[0], network.hosts[1])
        try await Self.call(on: network, sender: a, receiver: b) { sender, receiver in
            _ = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender)
            try network.setLink(of: b, up: false)
            try await Task.sleep(for: .seconds(20))
            let before = Self.statistics(in: receiver.stdout, of: "sender")?["frames_in"] as? Int ?? 0
            try network.setLink(of: b, up: true)
            let back = ContinuousClock.now
            _ = try await Self.waitForVideo(in: receiver, from: "sender", sender: sender, within: .seconds(30), after: before)
            let took = ContinuousClock.now - back
            #expect(took < .seconds(10), "media came back \(took) after the link")
        }
    }

    /// The sender's link stays down: within 30 s the recorder gives it up and finalises its
    /// recording; when the link returns, the sender is back in the call on its own.
    @Test func aPeerWhoseLinkStaysDownIsRemovedAndComesBack() async throws {
        let network = try TestNetwork(hosts: 2)
        let (a, b) = (network.hosts[0], network.hosts[1])
        let folder = try temporaryDirectory("rec-network")
        try await Self.call(on: network, sender: b, receiver: a, ["--record", folder]) { sender, recorder in
            _ = try await Self.waitForVideo(in: recorder, from: "sender", sender: sender)
            try network.setLink(of: b, up: false)
            let down = ContinuousClock.now
            try await eventually("the recorder to give the sender up", within: .seconds(40)) {
                recorder.stderr.contains("peer left") ? true : nil
            }
            #expect(ContinuousClock.now - down < .seconds(30), "\(recorder.stderr.suffix(1500))")
            let recording = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasPrefix("sender-") })
            try await expectRecording("\(folder)/\(recording)", frames: 20)
            try network.setLink(of: b, up: true)
            let before = Self.statistics(in: recorder.stdout, of: "sender")?["frames_in"] as? Int ?? 0
            _ = try await Self.waitForVideo(in: recorder, from: "sender", sender: sender, within: .seconds(30), after: before)
        }
    }

    /// A host with a second interface offers both; `--ice-interface eth0` keeps ICE to that one.
    @Test(arguments: [false, true])
    func iceInterfaceKeepsICEToTheNamedInterfaces(restricted: Bool) async throws {
        let network = try TestNetwork(hosts: 1)
        let host = network.hosts[0]
        try network.addInterface("vpn0", address: "10.9.9.9", on: host)
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            // A bare protocol client in the room: the gateway, joining after it, offers to it.
            let watcher = try await TestClient.join(call.url, id: "watcher")
            let gateway = try network.run(on: host, Self.sending(call, from: host, id: "gateway", restricted ? ["--ice-interface", "eth0"] : []))
            defer { gateway.signal(SIGKILL) }
            _ = try await watcher.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            var addresses: Set<String> = []
            while let message = try? await watcher.next(where: { $0.type == .newCandidate }, within: .seconds(2)) {
                let fields = (message.ice?.candidate ?? "").split(separator: " ")
                if fields.count > 4 { addresses.insert(String(fields[4])) }
            }
            #expect(addresses.contains(host.address), "\(addresses)")
            #expect(addresses.contains("10.9.9.9") == !restricted, "\(addresses)")
            await watcher.close()
        }
    }

    /// A call between a gateway sending the test pattern and tone (id `sender`) and one that
    /// only receives and prints `--stats` lines (id `receiver`), each on its host, with no
    /// `--ice-address`; the server runs in the test, reached through the router.
    static func call(on network: TestNetwork, sender senderHost: TestNetwork.Host, _ senderFlags: [String] = [],
                     receiver receiverHost: TestNetwork.Host, _ receiverFlags: [String] = [],
                     _ body: (_ sender: MeshgateProcess, _ receiver: MeshgateProcess) async throws -> Void) async throws {
        try await Call.run(configuring: { $0.host = "0.0.0.0" }) { call in
            let sender = try network.run(on: senderHost, Self.sending(call, from: senderHost, id: "sender", senderFlags))
            defer { sender.signal(SIGKILL) }
            let receiver = try network.run(on: receiverHost, Self.receiving(call, from: receiverHost, id: "receiver", receiverFlags))
            defer { receiver.signal(SIGKILL) }
            try await body(sender, receiver)
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
                             within limit: Duration = .seconds(30), after count: Int = 0) async throws -> Pair {
        do {
            return try await waitForVideo(receiver, peer, frames, limit, after: count)
        } catch {
            throw Timeout(description: "\(error)\nreceiver's log:\n\(receiver.stderr.suffix(4000))\nits statistics:\n\(receiver.stdout.suffix(400))"
                + "\nsender's log:\n\(sender.stderr.suffix(4000))")
        }
    }

    private static func waitForVideo(_ receiver: MeshgateProcess, _ peer: String, _ frames: Int, _ limit: Duration, after count: Int) async throws -> Pair {
        try await eventually("\(frames) frames from \(peer)", within: limit) { () throws -> Pair? in
            guard receiver.isRunning else { throw Timeout(description: "the receiver exited: \(receiver.stderr.suffix(1500))") }
            // A new connection counts its frames from 0.
            guard let line = statistics(in: receiver.stdout, of: peer), let seen = line["frames_in"] as? Int, seen >= frames,
                  seen < count || seen >= count + frames,
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
