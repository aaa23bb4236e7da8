import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// `--config FILE` and `MESHGATE_*`: options > environment > file > defaults, what
/// `--print-config` shows, and the errors that name the file, the key and what is allowed.
@Suite struct ConfigTests {
    static func file(_ text: String) throws -> String {
        let path = try temporaryDirectory("config") + "/meshgate.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The `name: value  # from …` line `--print-config` printed for `name`.
    static func line(_ name: String, in output: String) -> String {
        output.split(separator: "\n").first { $0.hasPrefix("\(name):") || $0.hasPrefix("# \(name):") }.map(String.init) ?? "no line for \(name)"
    }

    @Test func optionsWinOverTheEnvironmentWhichWinsOverTheFileWhichWinsOverDefaults() async throws {
        let path = try Self.file("""
            server: ws://calls.example:8000/room/a?token=s3cret
            size: 320x240
            fps: 15
            bitrate: 700
            turn:
              - turn://alice:pw1@turn.example:3478
              - turn://bob:pw2@turn.example:3478
            ice-tcp: false
            loop: true
            compose: rtmp://live.example/app/STREAMKEY

            """)
        let run = try await MeshgateProcess.run(["join", "--config", path, "--bitrate", "900", "--print-config"],
                                                environment: ["MESHGATE_FPS": "20", "MESHGATE_BITRATE": "800", "MESHGATE_STATS": "5"])
        #expect(run.status == 0, "\(run.stderr)")
        let out = run.stdout
        #expect(Self.line("bitrate", in: out) == "bitrate: 900  # from the command line")
        #expect(Self.line("fps", in: out) == "fps: 20  # from environment variable MESHGATE_FPS")
        #expect(Self.line("stats", in: out) == "stats: 5  # from environment variable MESHGATE_STATS")
        #expect(Self.line("size", in: out) == "size: \"320x240\"  # from \(path): key 'size'")
        #expect(Self.line("loop", in: out) == "loop: true  # from \(path): key 'loop'")
        #expect(Self.line("ice-tcp", in: out) == "ice-tcp: false  # from \(path): key 'ice-tcp'")
        #expect(Self.line("max-peers", in: out) == "max-peers: 32  # default")
        #expect(Self.line("video", in: out) == "video: \"auto\"  # default")
        #expect(Self.line("record", in: out) == "# record: (not set)")
        // Secrets never show.
        #expect(Self.line("server", in: out).hasPrefix("server: \"ws://calls.example:8000/room/a?token=***\""))
        #expect(Self.line("turn", in: out).hasPrefix("turn: [\"turn://alice:***@turn.example:3478\", \"turn://bob:***@turn.example:3478\"]"))
        #expect(Self.line("compose", in: out).hasPrefix("compose: \"rtmp://live.example/app/***\""))
        for secret in ["s3cret", "pw1", "pw2", "STREAMKEY"] { #expect(!out.contains(secret), "\(secret) shown") }
    }

    /// A file's values reach the running command: a server from a file listens where it
    /// says, serves metrics, and refuses a client without its token.
    @Test func aServerRunsWithWhatItsFileSays() async throws {
        let path = try Self.file("host: 127.0.0.1\nport: 0\ntoken: from-the-file\nmetrics: 127.0.0.1:0\nregister-timeout: 5\n")
        let served = try MeshgateProcess(["serve", "--config", path], environment: ["MESHGATE_RATE_LIMIT": "10"])
        let port = try await MetricsTests.port(in: served, after: "url=ws://127.0.0.1:")
        _ = try await MetricsTests.port(in: served, after: "metrics listening url=http://127.0.0.1:")
        let refused = try await TestClient.connect("ws://127.0.0.1:\(port)/")
        refused.send(Message(type: .newUser, id: "a"))
        #expect(try await refused.next().code == ProtocolError.Code.unauthorized.rawValue)
        let admitted = try await TestClient.join("ws://127.0.0.1:\(port)/?token=from-the-file", id: "b")
        await admitted.close()
        served.signal(SIGTERM)
        #expect(try await served.exitCode() == 0)
    }

    @Test(arguments: [
        ("sise: 1\n", "unknown key 'sise' (did you mean 'size'?)"),
        ("help: true\n", "unknown key 'help' (it cannot be set in a file)"),
        ("fps: 500\n", "key 'fps': --fps must be between 1 and 120, not 500"),
        ("fps: lots\n", "key 'fps': The value 'lots' is invalid for '--fps"),
        ("fps: [1, 2]\n", "key 'fps' must be a single value"),
        ("loop: sometimes\n", "key 'loop': must be true or false"),
        ("turn: {a: 1}\n", "key 'turn' must be a value or a list of values"),
        ("- size\n", "the file must be a mapping of option names to values"),
        ("size: [\n", "is not valid YAML"),
    ])
    func aBadFileNamesItselfTheKeyAndWhatIsAllowed(_ text: String, _ expected: String) async throws {
        let path = try Self.file(text)
        let run = try await MeshgateProcess.run(["join", "--config", path, "--video", "test", "--duration", "1"])
        #expect(run.status == 2)
        #expect(run.stderr.contains(path) && run.stderr.contains(expected), "\(run.stderr)")
    }

    @Test func aBadEnvironmentValueNamesTheVariable() async throws {
        let run = try await MeshgateProcess.run(["serve", "--port", "0"], environment: ["MESHGATE_MAX_ROOM_SIZE": "0"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("environment variable MESHGATE_MAX_ROOM_SIZE: --max-room-size must be at least 1"), "\(run.stderr)")
        let missing = try await MeshgateProcess.run(["serve"], environment: ["MESHGATE_CONFIG": "/nonexistent/meshgate.yaml"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("the config file /nonexistent/meshgate.yaml does not exist"), "\(missing.stderr)")
    }
}
