import Foundation
import MeshGateway
import MeshProtocol
import MeshTestSupport
import Testing

/// A member of the room that sends a gateway what no browser would, while an honest receiver
/// watches the gateway's video: nothing a peer sends may cost the others their call.
@Suite(.serialized)
struct HostilePeerTests {
    /// A bare protocol client in the room: the sender, joining after it, offers to it, so it
    /// holds a session with the sender to aim at.
    static func attacker(in call: Call) async throws -> (TestClient, TestGateway, TestGateway) {
        let receiver = try await call.join("receiver", record: false, receiveOnly)
        let attacker = try await TestClient.join(call.url, id: "attacker")
        let sender = try await call.join("sender", record: false)
        _ = try await attacker.next(where: { $0.type == .sendOffer }, within: .seconds(15))
        try await receiver.waitForMedia(from: ["sender"])
        return (attacker, sender, receiver)
    }

    static func candidate(index: Int?, mid: String? = "0", _ line: String = "candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host") -> Message {
        Message(type: .newCandidate, id: "attacker", targetId: "sender", username: "attacker",
                ice: IceCandidate(candidate: line, sdpMid: mid, sdpMLineIndex: index))
    }

    /// The receiver's video from the sender goes on growing: the sender is alive and sending.
    static func expectVideoGoesOn(_ receiver: TestGateway, _ what: String) async throws {
        let before = await receiver.videoBuffers(from: "sender")
        try await eventually("video to go on after \(what)", within: .seconds(10)) {
            await receiver.videoBuffers(from: "sender") > before + 10 ? true : nil
        }
    }

    @Test func malformedCandidatesAndDescriptionsAreIgnoredAndTheCallGoesOn() async throws {
        // A big frame limit lets an oversized offer reach the gateway: its own check must hold.
        try await Call.run(configuring: { $0.maxMessageBytes = 1 << 20 }) { call in
            let (attacker, sender, receiver) = try await Self.attacker(in: call)

            // Far more early candidates than anyone gathers: the queue stops at its limit.
            for port in 1000..<1300 {
                attacker.send(Self.candidate(index: 0, "candidate:1 1 UDP 2122252543 127.0.0.1 \(port) typ host"))
            }
            try await eventually("the early candidates to be queued") {
                await sender.snapshot().peers.first { $0.id == "attacker" }?.queuedCandidates == 64 ? true : nil
            }

            // An offer the gateway answers: from now on candidates go straight to webrtcbin.
            attacker.send(Message(type: .sendOffer, id: "attacker", targetId: "sender", username: "attacker", sdp: .offer(Self.browserOffer)))
            _ = try await attacker.next(where: { $0.type == .sendAnswer }, within: .seconds(10))
            // Indices that trapped the conversion to C's guint.
            for index in [-1, Int(UInt32.max) + 1, Int.min, Int.max, 7] { attacker.send(Self.candidate(index: index)) }
            for line in ["candidate:" + String(repeating: "9", count: 5000), "not a candidate", "candidate:1 1 UDP 1 127.0.0.1 9 typ host\r\na=x"] {
                attacker.send(Self.candidate(index: 0, line))
            }
            attacker.send(Self.candidate(index: nil, mid: String(repeating: "m", count: 1000)))
            attacker.send(Self.candidate(index: nil, mid: "no-such-mid"))
            try await Self.expectVideoGoesOn(receiver, "malformed candidates")

            // Descriptions the gateway cannot or must not answer.
            let manyLines = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                + String(repeating: "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n", count: 300)
            let huge = manyLines.prefix(200) + String(repeating: "a=x-padding:0123456789abcdef\r\n", count: 5000)
            for description in [SessionDescription.offer(manyLines), .offer(String(huge)), .answer(manyLines), .offer("v=0")] {
                let type: MessageType = description.type == "offer" ? .sendOffer : .sendAnswer
                attacker.send(Message(type: type, id: "attacker", targetId: "sender", username: "attacker", sdp: description))
            }
            try await Self.expectVideoGoesOn(receiver, "malformed descriptions")
            // None of it got an answer, or cost the attacker's session.
            let types = attacker.pending.compactMap { try? Message.decode($0).type }
            #expect(!types.contains(.sendAnswer))
            let snapshot = await sender.snapshot()
            #expect(snapshot.peers.map(\.id) == ["attacker", "receiver"])
            #expect(snapshot.registered)
            await attacker.close()
        }
    }

    @Test func peersPastMaxPeersGetNoWebRTCBin() async throws {
        try await Call.run { call in
            let first = try await TestClient.join(call.url, id: "a-first")
            let second = try await TestClient.join(call.url, id: "b-second")
            let gateway = try await call.join("gateway", record: false) { $0.maxPeers = 1 }
            _ = try await first.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            // The one past the limit is neither offered to nor answered.
            second.send(Message(type: .sendOffer, id: "b-second", targetId: "gateway", username: "b", sdp: .offer(Self.browserOffer)))
            let types = try await second.expectNothing(for: .seconds(2)).compactMap { try? Message.decode($0).type }
            #expect(!types.contains(.sendOffer) && !types.contains(.sendAnswer))
            let peers = await gateway.snapshot().peers.map(\.id)
            #expect(peers == ["a-first"])
            await first.close()
            await second.close()
        }
    }

    static let browserOffer = """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0\r
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r
        c=IN IP4 0.0.0.0\r
        a=ice-ufrag:abcd\r
        a=ice-pwd:abcdefghijklmnopqrstuvwx\r
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r
        a=setup:actpass\r
        a=mid:0\r
        a=sendrecv\r
        a=rtcp-mux\r
        a=rtpmap:111 opus/48000/2\r

        """
}
