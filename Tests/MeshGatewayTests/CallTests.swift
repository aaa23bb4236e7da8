import Foundation
import MeshGateway
import MeshTestSupport
import Testing

/// Gateways in real calls: real pipelines and webrtcbins over loopback ICE, the real server.
/// Serialized: each gateway encodes video, and the machine has two cores.
@Suite(.serialized)
struct CallTests {
    @Test(arguments: VideoCodec.allCases)
    func twoGatewaysRecordEachOther(codec: VideoCodec) async throws {
        try await Call.run { call in
            let alice = try await call.join("alice") { $0.videoCodec = codec }
            let bob = try await call.join("bob") { $0.videoCodec = codec }
            try await alice.waitForMedia(from: ["bob"])
            try await bob.waitForMedia(from: ["alice"])
            try await Task.sleep(for: .seconds(1.5))
            try await bob.leave()
            try await alice.leave()
            try await expectRecording(alice.recordings(of: "bob").first)
            try await expectRecording(bob.recordings(of: "alice").first)
        }
    }

    @Test(arguments: [true, false])
    func aReceiveOnlyGatewayRecordsASender(recorderFirst: Bool) async throws {
        try await Call.run { call in
            let recorder: TestGateway, sender: TestGateway
            if recorderFirst {
                recorder = try await call.join("recorder", receiveOnly)
                sender = try await call.join("sender", record: false)
            } else {
                sender = try await call.join("sender", record: false)
                recorder = try await call.join("recorder", receiveOnly)
            }
            try await recorder.waitForMedia(from: ["sender"])
            try await Task.sleep(for: .seconds(1.5))
            try await sender.leave()
            try await eventually("the recording to be finalised") { try await recorder.snapshot().peers.isEmpty ? true : nil }
            try await expectRecording(recorder.recordings(of: "sender").first)
        }
    }

    @Test func threeGatewaysEachRecordBothOthers() async throws {
        try await Call.run { call in
            let ids = ["ann", "ben", "cat"]
            var gateways: [TestGateway] = []
            for id in ids { gateways.append(try await call.join(id)) }
            for gateway in gateways { try await gateway.waitForMedia(from: ids.filter { $0 != gateway.id }) }
            try await Task.sleep(for: .seconds(1.5))
            for gateway in gateways { try await gateway.leave() }
            for gateway in gateways {
                for other in ids where other != gateway.id {
                    try await expectRecording(gateway.recordings(of: other).first)
                }
            }
        }
    }

    @Test func aPeerLeavesMidCallAndTheOthersCarryOn() async throws {
        try await Call.run { call in
            let ann = try await call.join("ann")
            let ben = try await call.join("ben")
            try await ann.waitForMedia(from: ["ben"])
            let withOnePeer = try await ann.snapshot().pipelineElements
            let cat = try await call.join("cat")
            try await ann.waitForMedia(from: ["ben", "cat"])
            try await Task.sleep(for: .seconds(1.5))
            try await cat.leave()
            try await eventually("ann to drop cat") { try await ann.snapshot().peers.map(\.id) == ["ben"] ? true : nil }
            #expect(try await ann.snapshot().pipelineElements == withOnePeer)
            let before = await ann.videoBuffers(from: "ben")
            try await eventually("more video from ben after cat left") { await ann.videoBuffers(from: "ben") > before + 10 ? true : nil }
            try await expectRecording(ann.recordings(of: "cat").first)
            try await ben.leave()
            try await ann.leave()
            try await expectRecording(ann.recordings(of: "ben").first)
        }
    }

    /// 20 peers come and go; the pipeline's elements and the process's threads come back to where they were.
    @Test func twentyJoinsAndLeavesLeaveNothingBehind() async throws {
        try await Call.run { call in
            let host = try await call.join("host", record: false)
            let warmup = try await call.join("warmup", record: false)
            try await host.waitForMedia(from: ["warmup"])
            try await warmup.leave()
            try await eventually("host to be alone") { try await host.snapshot().peers.isEmpty ? true : nil }
            let elements = try await host.snapshot().pipelineElements
            let threads = threadCount()
            for cycle in 1...20 {
                let guest = try await call.join("guest\(cycle)", record: false, receiveOnly)
                try await guest.waitForMedia(from: ["host"])
                try await guest.leave()
            }
            try await eventually("host to be alone") { try await host.snapshot().peers.isEmpty ? true : nil }
            #expect(try await host.snapshot().pipelineElements == elements)
            // GStreamer's thread pools may keep a few idle threads; a leak would be dozens.
            let after = try? await eventually("threads to wind down") { threadCount() <= threads + 4 ? true : nil }
            #expect(after != nil, "threads: \(threads) before, \(threadCount()) after")
        }
    }

    /// `--stats` shows how far behind the sender's camera its video arrives, from the capture
    /// time in its RTCP sender reports: on loopback, tens of milliseconds. Reports that
    /// mapped RTP time to the send time instead once put it seconds off.
    @Test func statsShowHowFarBehindTheCameraTheVideoArrives() async throws {
        try await Call.run { call in
            _ = try await call.join("sender", record: false)
            let receiver = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "receiver", "--video", "none", "--audio", "none",
                                                "--ice-address", "127.0.0.1", "--stats", "0.5"])
            let latencies = try await eventually("three stats lines with latency_ms", within: .seconds(20)) { () -> [Int]? in
                let values = receiver.stdout.split(separator: "\n").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["latency_ms"] as? Int
                }
                return values.count >= 3 ? values : nil
            }
            #expect(latencies.allSatisfy { (0..<1000).contains($0) }, "latency_ms: \(latencies)")
            receiver.signal(SIGTERM)
            #expect(try await receiver.exitCode() == 0)
        }
    }

    @Test func aLateJoinerDecodesVideoWithinTwoSeconds() async throws {
        try await Call.run { call in
            _ = try await call.join("ann", record: false)
            try await Task.sleep(for: .seconds(2))
            let joining = ContinuousClock.now
            let ben = try await call.join("ben")
            try await eventually("a keyframe from ann", within: .seconds(10)) {
                try await ben.snapshot().peers.first { $0.id == "ann" }?.decodableVideo == true ? true : nil
            }
            let elapsed = ContinuousClock.now - joining
            #expect(elapsed < .seconds(2), "first decodable frame after \(elapsed)")
            try await Task.sleep(for: .seconds(1))
            try await ben.leave()
            try await expectRecording(ben.recordings(of: "ann").first)
        }
    }
}

/// Threads of this process now.
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
}

/// The recording plays, and holds video of the configured size and audio.
func expectRecording(_ path: String?, width: Int = 320, height: Int = 240, frames: Int = 5,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let path = try #require(path, "no recording", sourceLocation: sourceLocation)
    let media = try await DecodedMedia.decode(path)
    #expect(media.videoFrames >= frames, "\(path): \(media.videoFrames) video frames, at least \(frames) wanted", sourceLocation: sourceLocation)
    #expect(media.width == width && media.height == height, "\(path): \(String(describing: media.width))x\(String(describing: media.height))", sourceLocation: sourceLocation)
    #expect(media.audioBuffers > 0, "\(path): no audio", sourceLocation: sourceLocation)
}
