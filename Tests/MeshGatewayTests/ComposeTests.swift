import Foundation
import MeshGateway
import MeshTestSupport
import Testing

/// `--compose`: a gateway turns the call it receives into one picture and one mix, written
/// to a file that plays or streamed to an RTMP server.
@Suite(.serialized)
struct ComposeTests {
    /// A mesh of three: alice sends a test pattern and a 500 Hz tone, bob only a 1300 Hz tone,
    /// the composer sends nothing. Its file, stopped by SIGTERM, plays at the asked size with
    /// alice's pattern in one tile and bob's placeholder in the other, and both tones; after
    /// bob leaves, alice's tile takes the whole picture.
    @Test func aMeshCallIsComposedIntoAFileThatIsFinalisedOnSIGTERM() async throws {
        let path = try temporaryDirectory("compose") + "/call.mkv"
        try await Call.run { call in
            _ = try await call.join("alice", record: false) { $0.audio = .tone(hertz: 500) }
            let bob = try await call.join("bob", record: false) {
                $0.video = .none
                $0.audio = .tone(hertz: 1300)
            }
            let composer = try MeshgateProcess(Self.composing(to: path, in: call, ["--compose-size", "640x360", "--compose-fps", "15"]))
            try await Self.waitForTheFirstFrame(of: composer)
            // A few seconds of both in the picture, then of alice alone.
            try await Task.sleep(for: .seconds(4))
            let withBoth = try await Self.frameNow(of: composer, path: path)
            try await bob.leave()
            try await Task.sleep(for: .seconds(3))
            composer.signal(SIGTERM)
            #expect(try await composer.exitCode() == 0, "\(composer.stderr)")
            #expect(composer.stderr.contains("composition finished"))

            let media = try await DecodedMedia.decode(path)
            #expect(media.width == 640 && media.height == 360)
            #expect(media.videoFrames > 60)
            #expect(media.audioBuffers > 100)

            // Two cells side by side: alice's bars on the left, bob's flat gray on the right.
            let (left, right) = (0.05...0.45, 0.55...0.95)
            #expect(MediaAnalysis.spread(withBoth, width: 64, x: left, y: 0.3...0.5) > 30)
            #expect(MediaAnalysis.spread(withBoth, width: 64, x: right, y: 0.1...0.3) < 5)
            #expect((35...75).contains(MediaAnalysis.mean(withBoth, width: 64, x: right, y: 0.1...0.3)))
            // Alone, alice's bars reach across the picture.
            let alone = try await MediaAnalysis.frame(of: path, width: 64, height: 36)
            #expect(MediaAnalysis.spread(alone, width: 64, x: right, y: 0.3...0.5) > 30)

            // Alice all along, bob for the first half: about 0.7 and 0.27 of what one hears.
            let tones = try await MediaAnalysis.heard(in: path, hertz: [500, 1300, 3000], windows: [0...3600])[0]
            #expect(tones[500, default: 0] > 0.3, "\(tones)")
            #expect(tones[1300, default: 0] > 0.1, "\(tones)")
            #expect(tones[3000, default: 1] < 0.001, "\(tones)")
        }
    }

    /// An MP4 (H.264 and AAC) is finalised on SIGINT too: it has its index, so it plays.
    @Test func anMP4IsFinalisedOnSIGINT() async throws {
        let path = try temporaryDirectory("compose") + "/call.mp4"
        try await Call.run { call in
            _ = try await call.join("alice", record: false)
            let composer = try MeshgateProcess(Self.composing(to: path, in: call, ["--compose-size", "320x180"]))
            try await Self.waitForTheFirstFrame(of: composer)
            try await Task.sleep(for: .seconds(2))
            composer.signal(SIGINT)
            #expect(try await composer.exitCode() == 0, "\(composer.stderr)")
            let media = try await DecodedMedia.decode(path)
            #expect(media.width == 320 && media.height == 180)
            #expect(media.videoFrames > 30 && media.audioBuffers > 0)
        }
    }

    /// `--compose rtmp://…` streams the call to an RTMP server (nginx with its RTMP module),
    /// from which a player decodes it at the composed size.
    @Test func aCallIsStreamedToAnRTMPServer() async throws {
        let server = try await RTMPServer.start()
        try await Call.run { call in
            _ = try await call.join("alice", record: false)
            let composer = try MeshgateProcess(Self.composing(to: server.url("test"), in: call, ["--compose-size", "480x270", "--compose-fps", "15"]))
            try await Self.waitForTheFirstFrame(of: composer)
            try await server.waitForPublisher(of: "test")
            let received = try await DecodedMedia.receive(server.url("test"))
            #expect(received.width == 480 && received.height == 270)
            #expect(!composer.stderr.contains("/live/test"), "the stream key is a secret")
            composer.signal(SIGTERM)
            #expect(try await composer.exitCode() == 0, "\(composer.stderr)")
        }
    }

    /// What cannot be composed is refused before anything starts, with a clear message.
    @Test func badDestinationsAreRefused() async throws {
        let existing = try temporaryDirectory("compose") + "/taken.mkv"
        #expect(FileManager.default.createFile(atPath: existing, contents: Data()))
        for (arguments, message) in [
            (["--compose", "call.avi"], "--compose takes a .mkv or .mp4 file"),
            (["--compose", existing], "is never overwritten"),
            (["--compose", "a.mkv", "--compose-size", "1281x720"], "--compose-size"),
            (["--compose", "a.mkv", "--compose-fps", "0"], "--compose-fps must be between 1 and 120"),
        ] {
            let result = try await MeshgateProcess.run(["join", "--server", "ws://127.0.0.1:9/"] + arguments)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    private static func composing(to destination: String, in call: Call, _ extra: [String]) -> [String] {
        ["join", "--server", call.url + "/", "--id", "composer", "--video", "none", "--audio", "none",
         "--ice-address", "127.0.0.1", "--compose", destination] + extra
    }

    /// Until the composer has received a peer's video and its file or stream has begun.
    private static func waitForTheFirstFrame(of composer: MeshgateProcess) async throws {
        try await eventually("the composer to receive video and write", within: .seconds(20)) { () -> Bool? in
            guard composer.isRunning else { throw Timeout(description: "the composer exited: \(composer.stderr)") }
            return composer.stderr.contains("first frame") && composer.stderr.contains("composition writing") ? true : nil
        }
    }

    /// The picture as written so far (Matroska without its index still plays to its end).
    private static func frameNow(of composer: MeshgateProcess, path: String) async throws -> [UInt8] {
        let copy = try temporaryDirectory("compose") + "/sofar.mkv"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return try await MediaAnalysis.frame(of: copy, width: 64, height: 36, fromEnd: 1)
    }
}
