import Foundation
import MeshGateway
import MeshProtocol
import MeshTestSupport
import Testing

/// A member of the room that sends a gateway what no browser would, while an honest receiver
/// watches the gateway's video: nothing a peer sends may cost the others their call.
@Suite(.serialized)
struct HostilePeerTests {
    /// The attacker is in the room before the sender: the sender, joining, offers to it, so
    /// it holds a session with the sender to aim at.
    static func attack(in call: Call) async throws -> (HostilePeer, TestGateway, TestGateway) {
        let receiver = try await call.join("receiver", record: false, receiveOnly)
        let attacker = try await HostilePeer.join(call.url, target: "sender")
        let sender = try await call.join("sender", record: false)
        _ = try await attacker.client.next(where: { $0.type == .sendOffer }, within: .seconds(15))
        try await receiver.waitForMedia(from: ["sender"])
        return (attacker, sender, receiver)
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
            let (attacker, sender, receiver) = try await Self.attack(in: call)

            // More than the gateway queues, fewer than the server's burst lets through.
            attacker.floodEarlyCandidates(150)
            try await eventually("the early candidates to be queued, up to the limit") {
                try await sender.snapshot().peers.first { $0.id == "attacker" }?.queuedCandidates == 64 ? true : nil
            }

            // From its answer on, candidates go straight to webrtcbin.
            try await attacker.offerAndWaitForTheAnswer()
            attacker.sendMalformedCandidates()
            try await Self.expectVideoGoesOn(receiver, "malformed candidates")

            attacker.sendUnanswerableDescriptions()
            try await Self.expectVideoGoesOn(receiver, "malformed descriptions")
            // None of it got an answer, or cost the attacker's session.
            let types = attacker.client.pending.compactMap { try? Message.decode($0).type }
            #expect(!types.contains(.sendAnswer))
            let snapshot = try await sender.snapshot()
            #expect(snapshot.peers.map(\.id) == ["attacker", "receiver"])
            #expect(snapshot.registered)
            await attacker.client.close()
        }
    }

    /// Each answer costs the gateway a new webrtcbin: a peer gets a few at once, then one per 5 s.
    @Test func offersInQuickSuccessionAreAnsweredOnlyAFewTimes() async throws {
        try await Call.run { call in
            let attacker = try await HostilePeer.join(call.url, target: "gateway")
            _ = try await call.join("gateway", record: false, receiveOnly)
            _ = try await attacker.client.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            for _ in 0..<20 { attacker.send(.sendOffer, sdp: .offer(HostilePeer.validOffer)) }
            let types = try await attacker.client.expectNothing(for: .seconds(3)).compactMap { try? Message.decode($0).type }
            #expect(types.filter { $0 == .sendAnswer }.count == 4)
            await attacker.client.close()
        }
    }

    @Test func peersPastMaxPeersGetNoWebRTCBin() async throws {
        try await Call.run { call in
            let first = try await TestClient.join(call.url, id: "a-first")
            let second = try await TestClient.join(call.url, id: "b-second")
            let gateway = try await call.join("gateway", record: false) { $0.maxPeers = 1 }
            _ = try await first.next(where: { $0.type == .sendOffer }, within: .seconds(15))
            // The one past the limit is neither offered to nor answered.
            second.send(Message(type: .sendOffer, id: "b-second", targetId: "gateway", username: "b", sdp: .offer(HostilePeer.validOffer)))
            let types = try await second.expectNothing(for: .seconds(2)).compactMap { try? Message.decode($0).type }
            #expect(!types.contains(.sendOffer) && !types.contains(.sendAnswer))
            let peers = try await gateway.snapshot().peers.map(\.id)
            #expect(peers == ["a-first"])
            await first.close()
            await second.close()
        }
    }
}
