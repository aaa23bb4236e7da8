import Foundation
import MeshTestSupport
import Testing

/// `join --control PATH` and `meshgate ctl`: each command end to end, as a receiving peer
/// sees and hears it.
@Suite(.serialized)
struct ControlTests {
    static func ctl(_ socket: String, _ words: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await MeshgateProcess.run(["ctl", "--control", socket] + words)
    }

    /// The sender's pattern and tone; `ctl mute` turns them into black and silence for a
    /// while, with the connection and the encoders kept (frames keep coming); `ctl unmute`
    /// brings them back; `ctl peers` lists the receiver with its traffic; `ctl leave` ends
    /// the sender as SIGTERM does and takes its socket away.
    @Test func ctlListsPeersMutesUnmutesAndLeaves() async throws {
        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/sender.sock"
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--video", "test", "--audio", "test:1000",
                                              "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--control", socket])
            let receiver = try await call.join("receiver")
            try await receiver.waitForMedia(from: ["sender"])

            let listed = try await eventually("ctl peers to show the receiver's traffic", within: .seconds(15)) { () async throws -> String? in
                let run = try await Self.ctl(socket, ["peers"])
                let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("receiver ") }
                return run.status == 0 && line?.contains("connected") == true && line?.contains(" - ") == false ? run.stdout : nil
            }
            #expect(listed.hasPrefix("ID"), "\(listed)")
            let json = try await Self.ctl(socket, ["peers", "--json"])
            let peers = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["peers"] as? [[String: Any]])
            #expect(peers.count == 1 && peers[0]["id"] as? String == "receiver" && peers[0]["video_codec"] as? String == "vp8", "\(json.stdout)")
            #expect((peers[0]["kbps_out"] as? Int ?? 0) > 50, "\(json.stdout)")

            try await Task.sleep(for: .seconds(3))
            for kind in ["video", "audio"] {
                let muted = try await Self.ctl(socket, ["mute", kind])
                #expect(muted.status == 0 && muted.stdout.contains("\(kind) muted"), "\(muted.stderr)")
            }
            let before = await receiver.videoBuffers(from: "sender")
            try await Task.sleep(for: .seconds(3))
            #expect(await receiver.videoBuffers(from: "sender") > before + 20, "muted video must still flow, as black frames")
            for kind in ["video", "audio"] {
                #expect(try await Self.ctl(socket, ["unmute", kind]).status == 0)
            }
            try await Task.sleep(for: .seconds(3))
            let left = try await Self.ctl(socket, ["leave"])
            #expect(left.status == 0 && left.stdout.contains("leaving"), "\(left.stderr)")
            #expect(try await sender.exitCode() == 0, "\(sender.stderr)")
            #expect(!FileManager.default.fileExists(atPath: socket), "the control socket outlived the gateway")
            try await eventually("the receiver to see the sender go") { try await receiver.snapshot().peers.isEmpty ? true : nil }
            try await receiver.leave()

            // The recording ends when the sender left: 3 s after unmuting, 6 s after muting.
            let recording = try #require(receiver.recordings(of: "sender").first)
            let end = try await MediaAnalysis.frame(of: recording, width: 160, height: 120, fromEnd: 1.2)
            let muted = try await MediaAnalysis.frame(of: recording, width: 160, height: 120, fromEnd: 4.5)
            let start = try await MediaAnalysis.frame(of: recording, width: 160, height: 120, fromEnd: 7.5)
            let whole = (x: 0.0...1.0, y: 0.0...1.0)
            for (frame, when) in [(start, "before muting"), (end, "after unmuting")] {
                #expect(MediaAnalysis.spread(frame, width: 160, x: whole.x, y: whole.y) > 30, "no test pattern \(when)")
            }
            #expect(MediaAnalysis.mean(muted, width: 160, x: whole.x, y: whole.y) < 25, "not black while muted")
            #expect(MediaAnalysis.spread(muted, width: 160, x: whole.x, y: whole.y) < 5, "not black while muted")
            let heardMuted = try await MediaAnalysis.tones(in: recording, hertz: [1000], window: 3.8...5.2)
            let heardAfter = try await MediaAnalysis.tones(in: recording, hertz: [1000], window: 0.5...2.0)
            #expect(heardMuted[1000, default: 1] < 0.05, "the tone while muted: \(heardMuted)")
            #expect(heardAfter[1000, default: 0] > 0.5, "no tone after unmuting: \(heardAfter)")
        }
    }

    /// `ctl record start DIR` records each peer there from then on, peers that come later too;
    /// `ctl record stop` finalises the files, which play: the peers' own size, video and audio.
    @Test func ctlRecordsFromStartToStop() async throws {
        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/recorder.sock"
            let folder = try temporaryDirectory("ctl-recordings")
            let recorder = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "recorder", "--video", "test", "--audio", "test",
                                                "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--control", socket])
            let first = try await call.join("first", record: false)
            try await first.waitForMedia(from: ["recorder"])
            let nothing = try await Self.ctl(socket, ["record", "stop"])
            #expect(nothing.status == 1 && nothing.stderr.contains("nothing is being recorded"), "\(nothing.stderr)")
            let missing = try await Self.ctl(socket, ["record", "start", folder + "/missing"])
            #expect(missing.status == 1 && missing.stderr.contains("no folder \(folder)/missing"), "\(missing.stderr)")

            let started = try await Self.ctl(socket, ["record", "start", folder])
            #expect(started.status == 0 && started.stdout.contains("\(folder)/first-"), "\(started.stdout) \(started.stderr)")
            let again = try await Self.ctl(socket, ["record", "start", folder])
            #expect(again.status == 1 && again.stderr.contains("already recording into \(folder)"), "\(again.stderr)")
            // A peer that comes while recording is recorded too.
            let second = try await call.join("second", record: false) { $0.width = 160; $0.height = 120 }
            try await second.waitForMedia(from: ["recorder"])
            try await Task.sleep(for: .seconds(3))
            let stopped = try await Self.ctl(socket, ["record", "stop"])
            #expect(stopped.status == 0 && stopped.stdout.contains("recordings finalised: 2"), "\(stopped.stdout) \(stopped.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            try #require(files.count == 2, "\(files)")
            for (file, size) in zip(files, [(320, 240), (160, 120)]) {
                let media = try await DecodedMedia.decode(folder + "/" + file)
                #expect(media.width == size.0 && media.height == size.1 && media.videoFrames >= 15 && media.audioBuffers > 0, "\(file): \(media)")
            }
            // Stopped means stopped: nothing more is written.
            let sizes = files.map { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0)[.size] as? Int) ?? 0 }
            try await Task.sleep(for: .seconds(1))
            #expect(files.map { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0)[.size] as? Int) ?? 0 } == sizes)
            recorder.signal(SIGTERM)
            #expect(try await recorder.exitCode() == 0)
        }
    }

    /// `ctl source` feeds the encoders from another source and back: a receiver records the
    /// file the sender started with (a ball on black, a 440 Hz tone), then the test pattern and
    /// a 1500 Hz tone, then the file again, all in one connection (one recording).
    @Test func ctlSwitchesSourcesWithoutRenegotiating() async throws {
        let clip = try await Clip.make(seconds: 2)
        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/switch.sock"
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--video", "file:\(clip)", "--audio", "file:\(clip)",
                                              "--loop", "--transcode", "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--control", socket])
            let receiver = try await call.join("receiver")
            try await receiver.waitForMedia(from: ["sender"])
            // Refusals first: they leave everything as it was.
            let refused = try await Self.ctl(socket, ["source", "video", "ftp://camera.example/live"])
            #expect(refused.status == 1 && refused.stderr.contains("can be switched to original, test, v4l2[:DEVICE], file:PATH or a network URI"), "\(refused.stderr)")
            let unreadable = try await Self.ctl(socket, ["source", "video", "file:/elsewhere.mkv"])
            #expect(unreadable.status == 1 && unreadable.stderr.contains("cannot read /elsewhere.mkv"), "\(unreadable.stderr)")
            let looped = try await Self.ctl(socket, ["source", "video", "test", "--loop"])
            #expect(looped.status == 1 && looped.stderr.contains("only a file loops"), "\(looped.stderr)")
            let missing = try await Self.ctl(socket, ["source", "video", "v4l2:/dev/video99"])
            #expect(missing.status == 1 && missing.stderr.contains("no camera at /dev/video99"), "\(missing.stderr)")
            try await Task.sleep(for: .seconds(3))
            for (kind, source) in [("video", "test"), ("audio", "test:1500")] {
                let switched = try await Self.ctl(socket, ["source", kind, source])
                #expect(switched.status == 0 && switched.stdout.contains("\(kind) now comes from"), "\(switched.stderr)")
            }
            try await Task.sleep(for: .seconds(3))
            for kind in ["video", "audio"] {
                let back = try await Self.ctl(socket, ["source", kind, "original"])
                #expect(back.status == 0 && back.stdout.contains("the source it started with"), "\(back.stderr)")
            }
            try await Task.sleep(for: .seconds(3))
            let recording = try await Self.leave(sender, socket: socket, receiver: receiver)
            let shown = try await Self.scenes(in: recording)
            #expect(shown.scenes == ["ball", "pattern", "ball"], "\(shown)")
            let switched = try await MediaAnalysis.tones(in: recording, hertz: [440, 1500], window: 3.8...5.2)
            let back = try await MediaAnalysis.tones(in: recording, hertz: [440, 1500], window: 0.5...2.0)
            #expect(switched[1500, default: 0] > 0.5 && switched[440, default: 1] < 0.05, "while switched: \(switched)")
            #expect(back[440, default: 0] > 0.5 && back[1500, default: 1] < 0.05, "after switching back: \(back)")
        }
    }

    /// `ctl source` to a file: it plays by the clock from where the call is (not in a rush to
    /// catch up), once, and then the source the gateway started with is back on its own; with
    /// `--loop` it plays over and over. The receiver records the test pattern, the file's ball,
    /// the pattern again; and the file's 440 Hz tone, still there after the file's length.
    @Test func ctlSwitchesToAFileOnceOrInALoop() async throws {
        let clip = try await Clip.make(seconds: 4)
        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/file.sock"
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--video", "test", "--audio", "test:1000",
                                              "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--control", socket])
            let receiver = try await call.join("receiver")
            try await receiver.waitForMedia(from: ["sender"])
            try await Task.sleep(for: .seconds(2))
            let switchedAt = ContinuousClock.now
            let video = try await Self.ctl(socket, ["source", "video", "file:\(clip)"])
            #expect(video.status == 0 && video.stdout.contains("at its end, the source the gateway started with again"), "\(video.stdout) \(video.stderr)")
            let audio = try await Self.ctl(socket, ["source", "audio", "file:\(clip)", "--loop"])
            #expect(audio.status == 0 && audio.stdout.contains("over and over"), "\(audio.stdout) \(audio.stderr)")
            try await eventually("the file to end and the pattern to come back", within: .seconds(15)) {
                sender.stderr.contains("the switched-in source ended; back to the source the gateway started with") ? true : nil
            }
            // Played by the clock: a 4 s file takes about 4 s.
            #expect(ContinuousClock.now - switchedAt > .seconds(3), "the file played faster than its time")
            try await eventually("the looped file to play again") { sender.stderr.contains("the switched-in file ended; it plays again") ? true : nil }
            try await Task.sleep(for: .seconds(3))
            let recording = try await Self.leave(sender, socket: socket, receiver: receiver)
            let shown = try await Self.scenes(in: recording)
            #expect(shown.scenes == ["pattern", "ball", "pattern"], "\(shown)")
            let looping = try await MediaAnalysis.tones(in: recording, hertz: [440, 1000], window: 0.5...2.0)
            #expect(looping[440, default: 0] > 0.5 && looping[1000, default: 1] < 0.05, "the looped file's tone at the end: \(looping)")
        }
    }

    /// `ctl source` to a network stream (an RTSP camera): its picture replaces the pattern
    /// until the camera dies, and then the pattern is back without anyone asking.
    @Test func ctlSwitchesToACameraStreamUntilItDies() async throws {
        let camera = try await RTSPCamera.start()
        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/stream.sock"
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--video", "test", "--audio", "test",
                                              "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--control", socket])
            let receiver = try await call.join("receiver")
            try await receiver.waitForMedia(from: ["sender"])
            let nobody = try await Self.ctl(socket, ["source", "video", "rtsp://127.0.0.1:9/camera"])
            #expect(nobody.status == 1 && nobody.stderr.contains("the stream rtsp://127.0.0.1:9/camera gave no video: "), "\(nobody.stderr)")
            try await Task.sleep(for: .seconds(2))
            let switched = try await Self.ctl(socket, ["source", "video", camera.url])
            #expect(switched.status == 0 && switched.stdout.contains("video now comes from the stream \(camera.url)"), "\(switched.stdout) \(switched.stderr)")
            try await Task.sleep(for: .seconds(6))
            camera.stop()
            try await eventually("the pattern to come back when the camera dies", within: .seconds(20)) {
                sender.stderr.contains("back to the source") ? true : nil
            }
            try await Task.sleep(for: .seconds(3))
            let recording = try await Self.leave(sender, socket: socket, receiver: receiver)
            let shown = try await Self.scenes(in: recording, atLeast: 2)
            #expect(shown.scenes == ["pattern", "ball", "pattern"], "\(shown)")
        }
    }

    /// Makes the sender leave through `ctl leave`, and returns the one recording the receiver
    /// made of it: a switch that renegotiated would have made two.
    static func leave(_ sender: MeshgateProcess, socket: String, receiver: TestGateway) async throws -> String {
        #expect(try await Self.ctl(socket, ["leave"]).status == 0)
        #expect(try await sender.exitCode() == 0, "\(sender.stderr)")
        try await eventually("the receiver to see the sender go") { try await receiver.snapshot().peers.isEmpty ? true : nil }
        try await receiver.leave()
        let recordings = receiver.recordings(of: "sender")
        try #require(recordings.count == 1, "a switch renegotiated: \(recordings)")
        return recordings[0]
    }

    /// What the recording shows, in order: each stretch of at least `atLeast` seconds of a
    /// ball on black (a clip, the RTSP camera) or of the bright test pattern; frames in
    /// between (an encoder settling after a cut) count for neither.
    /// With them, the brightness of each frame, for the failure message.
    static func scenes(in recording: String, atLeast seconds: Double = 1) async throws -> (scenes: [String], brightness: [Int]) {
        let fps = 4
        var runs: [(scene: String, frames: Int)] = []
        let brightness = try await MediaAnalysis.brightness(of: recording, fps: fps)
        for mean in brightness {
            guard let scene = mean < 50 ? "ball" : mean > 80 ? "pattern" : nil else { continue }
            if runs.last?.scene == scene { runs[runs.count - 1].frames += 1 } else { runs.append((scene, 1)) }
        }
        let long = runs.filter { Double($0.frames) >= seconds * Double(fps) }.map(\.scene)
        return (long.enumerated().filter { $0.offset == 0 || long[$0.offset - 1] != $0.element }.map(\.element), brightness.map { Int($0) })
    }

    /// What cannot be done says why: an unknown command, a socket nobody answers on, a
    /// second gateway on a taken socket, muting a kind the gateway does not send. A socket
    /// left by a killed gateway is no obstacle to the next.
    @Test func whatCannotBeDoneSaysWhy() async throws {
        let unknown = try await Self.ctl("/nonexistent.sock", ["mute", "vidoe"])
        #expect(unknown.status == 2 && unknown.stderr.contains("mute takes video or audio, not 'vidoe'"), "\(unknown.stderr)")
        let nobody = try await Self.ctl("/nonexistent.sock", ["peers"])
        #expect(nobody.status == 1 && nobody.stderr.contains("cannot reach a gateway at /nonexistent.sock"), "\(nobody.stderr)")
        let loop = try await Self.ctl("/nonexistent.sock", ["peers", "--loop"])
        #expect(loop.status == 2 && loop.stderr.contains("--loop goes with source video|audio file:PATH"), "\(loop.stderr)")
        let run = try await Self.ctl("/nonexistent.sock", ["dance"])
        #expect(run.status == 2 && run.stderr.contains("unknown command 'dance'"), "\(run.stderr)")

        try await Call.run { call in
            let socket = try temporaryDirectory("control") + "/listener.sock"
            let listener = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "listener", "--video", "none", "--audio", "test",
                                                "--ice-address", "127.0.0.1", "--control", socket])
            try await eventually("the control socket") { () throws -> Bool? in
                guard listener.isRunning else { throw Timeout(description: "join exited: \(listener.stderr)") }
                return listener.stderr.contains("control listening") ? true : nil
            }
            let refused = try await Self.ctl(socket, ["mute", "video"])
            #expect(refused.status == 1 && refused.stderr.contains("this gateway sends no video"), "\(refused.stderr)")
            let second = try await MeshgateProcess.run(["join", "--server", call.url + "/", "--id", "second", "--video", "none", "--audio", "none", "--control", socket])
            #expect(second.status == 1 && second.stderr.contains("another gateway answers there"), "\(second.stderr)")
            #expect(try await Self.ctl(socket, ["peers"]).stdout.contains("(no peers)"))

            // A gateway killed outright leaves its socket file behind, with nobody answering
            // on it: the next gateway on that path takes it over.
            listener.signal(SIGKILL)
            _ = try await listener.exitCode()
            #expect(FileManager.default.fileExists(atPath: socket), "a killed gateway cannot remove its socket")
            let dead = try await Self.ctl(socket, ["peers"])
            #expect(dead.status == 1 && dead.stderr.contains("cannot reach a gateway at \(socket)"), "\(dead.stderr)")
            let heir = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "heir", "--video", "none", "--audio", "test",
                                            "--ice-address", "127.0.0.1", "--control", socket])
            try await eventually("the heir's control socket") { () throws -> Bool? in
                guard heir.isRunning else { throw Timeout(description: "join exited: \(heir.stderr)") }
                return heir.stderr.contains("control listening") ? true : nil
            }
            #expect(try await Self.ctl(socket, ["peers"]).stdout.contains("(no peers)"))
            heir.signal(SIGTERM)
            #expect(try await heir.exitCode() == 0)
            #expect(!FileManager.default.fileExists(atPath: socket), "the heir's socket outlived it")
        }
    }
}
