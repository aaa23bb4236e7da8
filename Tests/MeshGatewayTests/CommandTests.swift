import Foundation
import MeshTestSupport
import Testing

/// `meshgate join` as a user runs it: bad input gets one clear line and the exit code of DESIGN.md.
@Suite(.serialized)
struct CommandTests {
    @Test(arguments: [
        (["--size", "640"], "--size must be WIDTHxHEIGHT"),
        (["--video", "webcam"], "--video must be auto, test"),
        (["--audio", "pulse"], "--audio must be auto, test"),
        (["--audio", "test:5"], "test[:HZ] (a tone of 20-20000 Hz)"),
        (["--fps", "0"], "--fps must be between 1 and 120"),
        (["--ice-ports", "9-1"], "--ice-ports must be MIN-MAX"),
        (["--ice-address", "localhost"], "--ice-address must be an IP address"),
        (["--server", "http://example.test/"], "--server must be a ws:// or wss:// URL"),
        (["--pipeline", "no-such-preset"], "no preset 'no-such-preset'"),
        (["--encode", "twice"], "--encode"),
        (["--id", String(repeating: "é", count: 65)], "--id must be 1 to 128 bytes"),
        (["--id", "evil\u{1B}[2J"], "--id must be 1 to 128 bytes without control characters"),
        (["--name", "a\rb"], "--name must be at most 256 bytes without control characters"),
        (["--max-peers", "0"], "--max-peers must be between 1 and 1000"),
        (["--max-early-candidates", "0"], "--max-early-candidates must be between 1 and 10000"),
        (["--turn", "stun://user:turn-secret@h:1"], "not 'stun://user:***@h:1'"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--encoder", "va", "--video-codec", "vp8"], "--encoder va encodes H.264 only: add h264 to --video-codec"),
        (["--video-codec", "vp8,av1"], "--video-codec must be vp8, h264, or both best first"),
        (["--video-codec", "h264,h264"], "--video-codec must be"),
        (["--encoder", "quicksync"], "--encoder"),
        (["--video", "rtmp://camera.test/live"], "--video must be auto, test, v4l2[:DEVICE], file:PATH, an rtsp://"),
        (["--video", "rtsp://"], "--video must be"),
        (["--ice-transport", "relay"], "--ice-transport relay needs a TURN server: add --turn"),
        (["--ice-transport", "tcp"], "--ice-transport"),
        (["--public-address", "cloud.example"], "--public-address must be an IPv4 address, not 'cloud.example'"),
        (["--source-latency", "20000"], "--source-latency must be between 0 and 10000 ms"),
    ])
    func aBadFlagValueIsAUsageError(arguments: [String], message: String) async throws {
        let result = try await MeshgateProcess.run(["join"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// `serve`'s limits are checked before anything starts, each with one clear line.
    @Test(arguments: [
        (["--max-room-size", "0"], "--max-room-size must be at least 1"),
        (["--max-outbox-bytes", "1000"], "--max-outbox-bytes must be at least --max-message-bytes (65536)"),
        (["--rate-limit=-1"], "--rate-limit must be 0 (off) or a positive number of messages a second"),
        (["--rate-burst", "0"], "--rate-burst must be at least 1"),
        (["--byte-rate-limit=-5"], "--byte-rate-limit must be 0 (off) or a positive number of bytes a second"),
        (["--byte-rate-burst", "0"], "--byte-rate-burst must be at least 1"),
    ])
    func aBadServeLimitIsAUsageError(arguments: [String], message: String) async throws {
        let result = try await MeshgateProcess.run(["serve", "--port", "0"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// A server that may open fewer files than `--max-connections` needs holds fewer, and says
    /// so, rather than failing to accept once the files run out.
    @Test func serveHoldsNoMoreConnectionsThanItMayOpenFiles() async throws {
        let serve = try MeshgateProcess(["--nofile=600", MeshgateProcess.binary, "serve", "--host", "127.0.0.1", "--port", "0"],
                                        executable: "/usr/bin/prlimit")
        try await eventually("the server to listen") { () throws -> Bool? in
            guard serve.isRunning else { throw Timeout(description: "serve exited: \(serve.stderr)") }
            return serve.stderr.contains("listening") ? true : nil
        }
        #expect(serve.stderr.contains("this process may open only 600 files") && serve.stderr.contains("max_connections=344"), "\(serve.stderr)")
        serve.signal(SIGTERM)
        #expect(try await serve.exitCode() == 0)
    }

    /// The completion scripts README tells people to install know every command and the flags
    /// of each.
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsKnowTheCommandsAndTheirFlags(shell: String) async throws {
        let result = try await MeshgateProcess.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["join", "serve", "devices", "pipelines", "compose-size", "hub-size", "video-codec", "log-format"] {
            #expect(result.stdout.contains(word), "the \(shell) script lacks \(word)")
        }
    }

    @Test func aMissingCameraSaysWhatToDo() async throws {
        try await expectFailure(["--video", "v4l2:/dev/video9", "--audio", "none"], saying: "no camera at /dev/video9: list cameras with `meshgate devices`")
    }

    @Test func anUnreadableFileSaysWhatToDo() async throws {
        try await expectFailure(["--video", "file:/no/such/clip.mkv", "--audio", "none"], saying: "cannot read /no/such/clip.mkv")
    }

    @Test func aCameraThatDoesNotAnswerSaysSo() async throws {
        try await expectFailure(["--video", "rtsp://user:camera-secret@127.0.0.1:9/camera", "--audio", "none"],
                                saying: "cannot open rtsp://user:***@127.0.0.1:9/camera")
    }

    @Test func aMissingElementSaysWhichOne() async throws {
        let folder = try temporaryDirectory("preset")
        let preset = "\(folder)/broken.pipeline"
        try "# needs a plugin that is not there\nnosuchsrc ! identity name=video\n".write(toFile: preset, atomically: true, encoding: .utf8)
        try await expectFailure(["--pipeline", preset], saying: "nosuchsrc")
    }

    /// This machine has no VA-API device: the encoder asked for by name is a clear error, not
    /// a silent fall back to software.
    @Test func aHardwareEncoderThatIsNotThereSaysWhichElement() async throws {
        try await expectFailure(["--video-codec", "h264", "--encoder", "va", "--audio", "none"],
                                saying: "--encoder va: GStreamer element 'vah264enc' is missing")
    }

    @Test func anUnreachableServerSaysWhatToDo() async throws {
        try await expectFailure(["--video", "test", "--audio", "none"], saying: "cannot reach the signalling server at ws://127.0.0.1:9/")
    }

    /// A join that fails at run time (exit 1) with `message` on stderr; port 9 has no server.
    private func expectFailure(_ arguments: [String], saying message: String) async throws {
        let result = try await MeshgateProcess.run(["join", "--server", "ws://127.0.0.1:9/"] + arguments)
        #expect(result.status == 1)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// CI has no camera and no microphone: `auto` falls back to the test pattern and tone, and says so.
    @Test func autoSaysWhichSourcesItPicked() async throws {
        let result = try await MeshgateProcess.run(["join", "--port", "0", "--size", "320x240", "--duration", "1"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("video source auto=test"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("audio source auto=test"), "stderr: \(result.stderr)")
    }

    @Test func logFormatJSONGivesOneObjectPerLine() async throws {
        let result = try await MeshgateProcess.run(["join", "--port", "0", "--size", "320x240", "--duration", "1", "--log-format", "json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("registered") }, "stderr: \(result.stderr)")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON object: \(line)")
        }
    }

    /// `--play-audio` without a device, before another flag or last, plays on ALSA's default
    /// device: here one of the test's own asoundrc that writes what it plays to a file (CI has
    /// no sound card).
    @Test(arguments: [["--play-audio", "--stats", "1"], ["--stats", "1", "--play-audio"]])
    func playAudioAloneUsesTheDefaultDevice(arguments: [String]) async throws {
        let home = try temporaryDirectory("alsa")
        let played = "\(home)/played.raw"
        try """
            pcm.!default {
                type file
                slave.pcm "null"
                file "\(played)"
                format "raw"
            }

            """.write(toFile: "\(home)/.asoundrc", atomically: true, encoding: .utf8)
        // GStreamer's plugin registry from the usual cache: a fresh one takes seconds to build.
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.cache"
        try await Call.run { call in
            _ = try await call.join("sender", record: false) { $0.video = .none }
            let player = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "player", "--video", "none", "--audio", "none",
                                              "--ice-address", "127.0.0.1"] + arguments,
                                             environment: ["HOME": home, "XDG_CACHE_HOME": cache])
            do {
                // Only an alsasink on the default device writes there; without --play-audio nothing does.
                try await eventually("audio played into \(played)", within: .seconds(20)) { () -> Bool? in
                    let size = (try? FileManager.default.attributesOfItem(atPath: played)[.size] as? Int) ?? 0
                    return size > 0 ? true : nil
                }
            } catch {
                throw Timeout(description: "\(error); stderr: \(player.stderr)")
            }
            player.signal(SIGTERM)
            #expect(try await player.exitCode() == 0, "stderr: \(player.stderr)")
            #expect(!player.stderr.contains("error"), "stderr: \(player.stderr)")
        }
    }

    @Test func devicesListsCamerasAndMicrophones() async throws {
        let result = try await MeshgateProcess.run(["devices"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("Cameras:") && result.stdout.contains("Microphones:"), "stdout: \(result.stdout)")
    }

    @Test func pipelinesListsThePresets() async throws {
        let result = try await MeshgateProcess.run(["pipelines"])
        #expect(result.status == 0)
        for name in ["camera", "clock", "file-loop", "test"] {
            #expect(result.stdout.contains(name), "stdout: \(result.stdout)")
        }
    }

    /// Without --server, join starts the server itself, prints its URL, and others can join it.
    @Test func joinEmbedsTheServerAndLeavesAfterItsDuration() async throws {
        let host = try MeshgateProcess(["join", "--port", "0", "--id", "host", "--video", "test", "--audio", "test",
                                        "--size", "320x240", "--ice-address", "127.0.0.1", "--duration", "8"])
        let url = try await eventually("the printed URL") { () -> String? in
            guard let range = host.stderr.range(of: #"url=ws://localhost:\d+/"#, options: .regularExpression) else { return nil }
            return String(host.stderr[range].dropFirst(4)).replacingOccurrences(of: "localhost", with: "127.0.0.1")
        }
        let guest = try await TestGateway.join(url, id: "guest")
        try await guest.waitForMedia(from: ["host"])
        try await Task.sleep(for: .seconds(1))
        #expect(try await host.exitCode() == 0)
        try await eventually("the host to leave the guest's view") { try await guest.snapshot().peers.isEmpty ? true : nil }
        try await guest.leave()
        try await expectRecording(guest.recordings(of: "host").first)
    }

    /// SIGTERM or SIGINT: close_connection, the recording finalised, exit 0.
    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalLeavesCleanlyAndTheRecordingPlays(signal: Int32) async throws {
        try await Call.run { call in
            _ = try await call.join("sender", record: false)
            let folder = try temporaryDirectory("sigterm")
            let recorder = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "recorder", "--video", "none", "--audio", "none",
                                                "--ice-address", "127.0.0.1", "--record", folder])
            try await eventually("the recorder's first frame", within: .seconds(20)) { recorder.stderr.contains("first frame") ? true : nil }
            try await Task.sleep(for: .seconds(1.5))
            recorder.signal(signal)
            #expect(try await recorder.exitCode() == 0, "stderr: \(recorder.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("sender-") }
            try await expectRecording(files.first.map { "\(folder)/\($0)" })
        }
    }
}
