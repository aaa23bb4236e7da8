import Foundation
import MeshTestSupport
import Testing

/// What `meshgate join` sends besides the test pattern: files, loops, presets. The sender
/// runs as a user runs it; a receive-only gateway records what arrives.
@Suite(.serialized)
struct SourceTests {
    /// The sender is alone in the call for longer than its file lasts: the file waits for the
    /// first peer, plays to that peer from its start, and the sender leaves when it ends.
    @Test func aFileWaitsForTheFirstPeerIsSentOnceAndThenTheGatewayLeaves() async throws {
        let clip = try await Clip.make(seconds: 2)
        try await Call.run { call in
            let sender = try MeshgateProcess(sending(["--video", "file:\(clip)", "--audio", "file:\(clip)"], to: call))
            try await eventually("the sender to register") { sender.stderr.contains("registered") ? true : nil }
            try await Task.sleep(for: .seconds(3))
            let recorder = try await call.join("recorder", receiveOnly)
            do {
                try await recorder.waitForMedia(from: ["clip"])
            } catch {
                throw Timeout(description: "\(error)\nthe sender's log:\n\(sender.stderr)")
            }
            #expect(try await sender.exitCode() == 0, "stderr: \(sender.stderr)")
            #expect(sender.stderr.contains("file started") && sender.stderr.contains("the source ended"), "stderr: \(sender.stderr)")
            try await eventually("the recording to be finalised") { try await recorder.snapshot().peers.isEmpty ? true : nil }
            // 30 frames in the clip; the first ones pass before the keyframe the recorder asks for.
            try await expectRecording(recorder.recordings(of: "clip").first, frames: 24)
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

    @Test(arguments: ["clock", "bars"])
    func thePresetIsSent(preset: String) async throws {
        try await Call.run { call in
            let recorder = try await call.join("recorder", receiveOnly)
            let sender = try MeshgateProcess(sending(["--pipeline", preset], to: call))
            try await recorder.waitForMedia(from: ["clip"])
            try await Task.sleep(for: .seconds(1.5))
            try await stop(sender, expectingARecordingBy: recorder)
        }
    }

    /// There is no sound card on CI: an asoundrc of the test's own defines PCM `testmic`, which
    /// reads raw samples from a FIFO that a live tone writes in real time (which paces it).
    @Test func alsaCaptureFromAPCMOfTheUsersAsoundrc() async throws {
        // `plug` fixes the format to what the FIFO holds, whatever alsasrc asks for.
        let home = try alsaHome { home in
            """
            pcm.testmic {
                type plug
                slave { pcm "micfile"; format S16_LE; channels 2; rate 48000 }
            }
            pcm.micfile {
                type file
                slave.pcm "null"
                file "/dev/null"
                infile "\(home)/mic.fifo"
                format "raw"
            }
            """
        }
        let fifo = "\(home)/mic.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let tone = Process()
        tone.executableURL = URL(fileURLWithPath: "/usr/bin/gst-launch-1.0")
        tone.arguments = ["-q", "audiotestsrc", "is-live=true", "freq=440", "!", "audio/x-raw,format=S16LE,rate=48000,channels=2",
                          "!", "filesink", "buffer-mode=unbuffered", "location=\(fifo)"]
        try tone.run()
        defer { tone.terminate() }
        try await Call.run { call in
            let recorder = try await call.join("recorder", receiveOnly)
            let sender = try MeshgateProcess(sending(["--video", "test", "--audio", "alsa:testmic"], to: call), environment: alsaEnvironment(home: home))
            do {
                try await recorder.waitForMedia(from: ["clip"])
            } catch {
                throw Timeout(description: "\(error); sender's stderr: \(sender.stderr)")
            }
            try await eventually("audio from the ALSA PCM") {
                try await recorder.snapshot().peers.first { $0.id == "clip" }.map { $0.audioBuffers > 50 ? true : nil } ?? nil
            }
            try await stop(sender, expectingARecordingBy: recorder)
        }
    }

    /// `--play-audio` into a PCM of the test's asoundrc (a null device, as fast as it is fed):
    /// received audio is decoded and played on and on, as its counter in `--stats` shows.
    @Test func receivedAudioIsPlayedOnALSA() async throws {
        let home = try alsaHome { _ in "pcm.testspeaker {\n    type null\n}\n" }
        try await Call.run { call in
            _ = try await call.join("sender", record: false) { $0.video = .none }
            let player = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "player", "--video", "none", "--audio", "none",
                                              "--ice-address", "127.0.0.1", "--play-audio", "testspeaker", "--stats", "0.5"],
                                             environment: alsaEnvironment(home: home))
            do {
                try await eventually("a second of audio handed to ALSA", within: .seconds(20)) { () -> Bool? in
                    let counts = player.stdout.split(separator: "\n").compactMap { line in
                        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["audio_buffers_in"] as? Int
                    }
                    return (counts.last ?? 0) > 50 ? true : nil
                }
            } catch {
                throw Timeout(description: "\(error); stdout: \(player.stdout) stderr: \(player.stderr)")
            }
            player.signal(SIGTERM)
            #expect(try await player.exitCode() == 0, "stderr: \(player.stderr)")
            #expect(!player.stderr.contains("error"), "stderr: \(player.stderr)")
        }
    }

    /// The sender still sends well after its 2 s clip has played through twice.
    private func expectLooping(arguments: [String], environment: [String: String] = [:]) async throws {
        try await Call.run { call in
            let recorder = try await call.join("recorder", receiveOnly)
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

    /// SIGTERM to the sender: it exits 0, and the recorder's file of it is finalised and plays.
    private func stop(_ sender: MeshgateProcess, expectingARecordingBy recorder: TestGateway) async throws {
        sender.signal(SIGTERM)
        #expect(try await sender.exitCode() == 0, "stderr: \(sender.stderr)")
        try await eventually("the recording to be finalised") { try await recorder.snapshot().peers.isEmpty ? true : nil }
        try await expectRecording(recorder.recordings(of: "clip").first)
    }

    /// A new HOME whose .asoundrc is `asoundrc(home)`.
    private func alsaHome(_ asoundrc: (_ home: String) -> String) throws -> String {
        let home = try temporaryDirectory("alsa")
        try asoundrc(home).write(toFile: "\(home)/.asoundrc", atomically: true, encoding: .utf8)
        return home
    }

    /// HOME for ALSA's asoundrc, but GStreamer's plugin registry from the usual cache: a
    /// fresh one takes seconds to build on every run.
    private func alsaEnvironment(home: String) -> [String: String] {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.cache"
        return ["HOME": home, "XDG_CACHE_HOME": cache]
    }

    private func sending(_ source: [String], to call: Call) -> [String] {
        ["join", "--server", call.url + "/", "--id", "clip", "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1"] + source
    }
}

/// A short file with a test pattern and a tone, made with gst-launch-1.0: WebM (VP8 and
/// Opus, 320x240), or with `h264` MP4 (H.264 with a keyframe every second and AAC, 480x360).
enum Clip {
    static func make(seconds: Int, h264: Bool = false) async throws -> String {
        let path = try temporaryDirectory("clip") + (h264 ? "/clip.mp4" : "/clip.webm")
        let frames = seconds * 15, audioBuffers = seconds * 50
        let video = h264
            ? ["video/x-raw,format=I420,width=480,height=360,framerate=15/1", "!", "x264enc", "speed-preset=ultrafast", "tune=zerolatency",
               "key-int-max=15", "!", "h264parse", "!", "queue", "!", "mp4mux", "name=mux"]
            : ["video/x-raw,width=320,height=240,framerate=15/1", "!", "vp8enc", "deadline=1", "!", "queue", "!", "webmmux", "name=mux"]
        let audio = h264 ? ["voaacenc", "!", "aacparse"] : ["opusenc"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gst-launch-1.0")
        process.arguments = ["-q", "videotestsrc", "num-buffers=\(frames)", "pattern=ball", "!"] + video
            + ["!", "filesink", "location=\(path)",
               "audiotestsrc", "num-buffers=\(audioBuffers)", "samplesperbuffer=960", "!", "audio/x-raw,rate=48000", "!"]
            + audio + ["!", "queue", "!", "mux."]
        try process.run()
        try await eventually("gst-launch-1.0 to write the clip", within: .seconds(30)) { process.isRunning ? nil : true }
        #expect(process.terminationStatus == 0)
        return path
    }
}
