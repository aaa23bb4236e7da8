import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// The server's token and a TURN password stay out of every log line; a wrong token ends
/// `join` with the server's reason instead of retrying forever.
@Suite(.serialized)
struct SecretsTests {
    @Test func aRefusedTokenEndsJoinWithTheServersReason() async throws {
        let server = try await TestServer.start { $0.token = "right-token" }
        let result = try await MeshgateProcess.run(["join", "--server", server.url + "/?token=wrong-token", "--video", "none", "--audio", "none",
                                                    "--log-level", "trace"])
        try await server.stop()
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("the server refused our token: this server needs a token"), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("wrong-token"), "stderr: \(result.stderr)")
    }

    @Test func noTokenOrTurnPasswordInAnyLogLine() async throws {
        let server = try await TestServer.start { $0.token = "right-token" }
        // Someone to offer to, so that every peer path logs what it logs.
        let watcher = try await TestClient.join(server.url + "/?token=right-token", id: "watcher")
        let result = try await MeshgateProcess.run([
            "join", "--server", server.url + "/?token=right-token", "--id", "gateway", "--size", "320x240", "--ice-address", "127.0.0.1",
            "--turn", "turn://user:turn-secret@127.0.0.1:9", "--log-level", "trace", "--duration", "3",
        ])
        await watcher.close()
        try await server.stop()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("ws://127.0.0.1:\(server.port)/?token=***"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("peer connecting"), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("right-token") && !result.stderr.contains("turn-secret"), "stderr: \(result.stderr)")
    }
}
