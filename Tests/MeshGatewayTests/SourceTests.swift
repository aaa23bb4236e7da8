import Foundation
import MeshTestSupport
import Testing

/// What `meshgate join` sends besides the test pattern: files, loops, presets. The sender
/// runs as a user runs it; a receive-only gateway records what arrives.
@Suite(.serialized)
struct SourceTests {
    @Test func aFileIsSentOnceAndThenTheGatewayLeaves() async throws {
        let clip = try await Clip.make(seconds: 2)
        try await Call.run { call in
            let recorder = try await call.join("recorder") { $0.video = .none; $0.audio = .none }
            let sender = try MeshgateProcess(sending(["--video", "file:\(clip)", "--audio", "file:\(clip)"], to: call))
            try await recorder.waitForMedia(from: ["clip"])
            #expect(try await sender.exitCode() == 0, "stderr: \(sender.stderr)")
            #expect(sender.stderr.contains("the source ended"), "stderr: \(sender.stderr)")
            try await eventually("the recording to be finalised") { await recorder.snapshot().peers.isEmpty ? true : nil }
            try await expectRecording(recorder.recordings(of: "clip").first)
        }
    }

    @Test func withLoopAFileGoesOnPlaying() async throws {
        let clip = try await Clip.make(seconds: 2)
        try await expectLooping(arguments: ["--video", "file:\(clip)", "--audio", "file:\(clip)", "--loop"])
    }

    @Test func theFileLoopPresetGoesOnPlaying() async throws {
        let clip = try await Clip.make(seconds: 2)
        try await expectLooping(arguments: ["--pipeline", "file-loop"], environment: ["MESHGATE_FILE": clip])
    }

    @Test func theClockPresetIsSent() async throws {
        try await Call.run { call in
            let recorder = try await call.join("recorder") { $0.video = .none; $0.audio = .none }
            let sender = try MeshgateProcess(sending(["--pipeline", "clock"], to: call))
            try await recorder.waitForMedia(from: ["clip"])
            try await Task.sleep(for: .seconds(1.5))
            sender.signal(SIGTERM)
            #expect(try await sender.exitCode() == 0, "stderr: \(sender.stderr)")
            try await eventually("the recording to be finalised") { await recorder.snapshot().peers.isEmpty ? true : nil }
            try await expectRecording(recorder.recordings(of: "clip").first)
        }
    }

    /// The sender still sends well after its 2 s clip has played through twice.
    private func expectLooping(arguments: [String], environment: [String: String] = [:]) async throws {
        try await Call.run { call in
            let recorder = try await call.join("recorder") { $0.video = .none; $0.audio = .none }
            let sender = try MeshgateProcess(sending(arguments, to: call), environment: environment)
            try await recorder.waitForMedia(from: ["clip"])
            try await Task.sleep(for: .seconds(5))
            let before = await recorder.videoBuffers(from: "clip")
            try await eventually("video still coming after two rounds of the clip", within: .seconds(5)) {
                await recorder.videoBuffers(from: "clip") > before + 10 ? true : nil
            }
            sender.signal(SIGTERM)
            #expect(try await sender.exitCode() == 0, "stderr: \(sender.stderr)")
            #expect(!sender.stderr.contains("cannot loop"), "stderr: \(sender.stderr)")
        }
    }

    private func sending(_ source: [String], to call: Call) -> [String] {
        ["join", "--server", call.server.url + "/", "--id", "clip", "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1"] + source
    }
}

/// A short WebM file with a test pattern and a tone, made with gst-launch-1.0.
enum Clip {
    static func make(seconds: Int) async throws -> String {
        let path = try temporaryDirectory("clip") + "/clip.webm"
        let frames = seconds * 15, audioBuffers = seconds * 50
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gst-launch-1.0")
        process.arguments = ["-q",
            "videotestsrc", "num-buffers=\(frames)", "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=15/1",
            "!", "vp8enc", "deadline=1", "!", "queue", "!", "webmmux", "name=mux", "!", "filesink", "location=\(path)",
            "audiotestsrc", "num-buffers=\(audioBuffers)", "samplesperbuffer=960", "!", "audio/x-raw,rate=48000",
            "!", "opusenc", "!", "queue", "!", "mux."]
        try process.run()
        try await eventually("gst-launch-1.0 to write the clip", within: .seconds(30)) { process.isRunning ? nil : true }
        #expect(process.terminationStatus == 0)
        return path
    }
}
