import Foundation
@testable import MeshGateway
import MeshTestSupport
import Testing

/// `--encode per-peer`: each peer has its own encoders and its own video bitrate.
@Suite(.serialized)
struct EncodeTests {
    @Test(arguments: VideoCodec.allCases)
    func perPeerEncodersFeedEveryReceiver(codec: VideoCodec) async throws {
        try await Call.run { call in
            let sender = try await call.join("sender", record: false) { $0.encode = .perPeer; $0.videoCodec = codec }
            let first = try await call.join("first", receiveOnly)
            let second = try await call.join("second", receiveOnly)
            try await first.waitForMedia(from: ["sender"])
            try await second.waitForMedia(from: ["sender"])
            try await Task.sleep(for: .seconds(1.5))
            try await sender.leave()
            for recorder in [first, second] {
                try await eventually("\(recorder.id)'s recording to be finalised") { try await recorder.snapshot().peers.contains { $0.id == "sender" } ? nil : true }
                try await expectRecording(recorder.recordings(of: "sender").first)
            }
        }
    }

    /// A sender that joins a room offers to everyone at once, while its pipeline is starting:
    /// no branch may stop the shared encoder (a webrtcbin not yet playing once did, now and then).
    @Test(arguments: EncodeMode.allCases)
    func aSenderJoiningFourPeersReachesEveryOne(mode: EncodeMode) async throws {
        try await Call.run { call in
            let ids = ["r1", "r2", "r3", "r4"]
            var receivers: [TestGateway] = []
            for id in ids { receivers.append(try await call.join(id, record: false, receiveOnly)) }
            _ = try await call.join("sender", record: false) { $0.encode = mode; $0.videoCodec = .h264 }
            for receiver in receivers { try await receiver.waitForMedia(from: ["sender"]) }
        }
    }

    /// Each peer's line of `--stats` shows its own encoder's target; on loopback nothing is lost,
    /// so it stays at `--bitrate`. With `--encode once` there is no per-peer target.
    @Test(arguments: EncodeMode.allCases)
    func statsShowEachPeersOwnTarget(mode: EncodeMode) async throws {
        try await Call.run { call in
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--encode", mode.rawValue,
                                              "--bitrate", "400", "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--stats", "0.5"])
            _ = try await call.join("first", record: false, receiveOnly)
            _ = try await call.join("second", record: false, receiveOnly)
            let lines: [[String: Any]]
            do {
                lines = try await eventually("a connected stats line for each peer", within: .seconds(20)) { () -> [[String: Any]]? in
                    let parsed = sender.stdout.split(separator: "\n").compactMap {
                        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                    }.filter { $0["state"] as? String == "connected" }
                    let peers = Set(parsed.compactMap { $0["peer"] as? String })
                    return peers == ["first", "second"] ? parsed : nil
                }
            } catch {
                throw Timeout(description: "\(error)\nsender's stdout:\n\(sender.stdout)\nsender's stderr:\n\(sender.stderr)")
            }
            for line in lines {
                #expect(line["kbps_target"] as? Int == (mode == .perPeer ? 400 : nil), "\(line)")
            }
            sender.signal(SIGTERM)
            #expect(try await sender.exitCode() == 0)
        }
    }
}

/// The loss-based controller of each peer's video bitrate.
struct BitrateControllerTests {
    @Test func heavyLossCutsInProportionDownToAFloor() {
        var controller = BitrateController(maximum: 1500)
        #expect(controller.current == 1500)
        #expect(controller.update(fractionLost: 0.3) == 1275)
        for _ in 0..<50 { _ = controller.update(fractionLost: 0.5) }
        #expect(controller.current == 75)
        #expect(controller.update(fractionLost: 0.5) == nil)
    }

    @Test func someLossHoldsAndNoLossClimbsBackToTheMaximumOnly() {
        var controller = BitrateController(maximum: 1000)
        _ = controller.update(fractionLost: 0.4)
        let cut = controller.current
        #expect(controller.update(fractionLost: 0.05) == nil)
        #expect(controller.update(fractionLost: 0) == Int((Double(cut) * 1.08).rounded(.up)))
        for _ in 0..<50 { _ = controller.update(fractionLost: 0) }
        #expect(controller.current == 1000)
        #expect(controller.update(fractionLost: 0) == nil)
    }
}
