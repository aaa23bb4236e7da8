import Foundation
import Logging
import MeshGateway
import MeshTestSupport

/// A real gateway (GStreamer pipeline, webrtcbins, WebSocket) in this process, for one test.
final class TestGateway: Sendable {
    let id: String
    let gateway: Gateway
    let recordDirectory: String?
    private let task: Task<Void, any Error>

    private init(id: String, gateway: Gateway, recordDirectory: String?, task: Task<Void, any Error>) {
        self.id = id
        self.gateway = gateway
        self.recordDirectory = recordDirectory
        self.task = task
    }

    /// Joins `url` with a small test pattern and tone, recording what it receives unless `record` is false;
    /// returns once registered.
    static func join(
        _ url: String, id: String, record: Bool = true,
        _ configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws -> TestGateway {
        var configuration = GatewayConfiguration()
        configuration.serverURL = url
        configuration.id = id
        configuration.iceAddresses = ["127.0.0.1"]
        configuration.width = 320
        configuration.height = 240
        configuration.fps = 15
        configuration.bitrate = 300
        if record { configuration.recordDirectory = try temporaryDirectory("rec-\(id)") }
        configure(&configuration)
        var logger = Logger(label: "test.gateway.\(id)")
        logger.logLevel = ProcessInfo.processInfo.environment["MESHGATE_TEST_LOG"] == nil ? .critical : .trace
        let gateway = Gateway(configuration: configuration, logger: logger)
        let task = Task {
            do {
                try await gateway.run()
            } catch {
                // A test that then waits in vain for this gateway's media shows why in its output.
                FileHandle.standardError.write(Data("gateway \(id) stopped: \(error)\n".utf8))
                throw error
            }
        }
        let joined = TestGateway(id: id, gateway: gateway, recordDirectory: configuration.recordDirectory, task: task)
        try await eventually("\(id) to register", within: .seconds(20)) { () async throws -> Bool? in
            guard let snapshot = await gateway.snapshot() else {
                // It stopped: its error says why, at once.
                try await task.value
                throw Timeout(description: "gateway \(id) stopped before it registered")
            }
            return snapshot.registered ? true : nil
        }
        return joined
    }

    /// The gateway's state now; throws once it has stopped.
    func snapshot() async throws -> GatewaySnapshot {
        guard let snapshot = await gateway.snapshot() else { throw Timeout(description: "gateway \(id) has stopped") }
        return snapshot
    }

    /// Waits until decodable video, and audio unless `audio` is false, from each of `ids` has arrived.
    func waitForMedia(from ids: [String], audio: Bool = true, within limit: Duration = .seconds(20)) async throws {
        // What it last had of those peers: a sender that has left by the end shows here.
        var seen = "nothing"
        do {
            try await eventually("\(id) to receive from \(ids)", within: limit) { () async throws -> Bool? in
                let peers = try await snapshot().peers
                let described = peers.filter { ids.contains($0.id) }.map(Self.described)
                if !described.isEmpty { seen = described.joined(separator: ", ") }
                let receiving = ids.allSatisfy { id in
                    peers.contains { $0.id == id && $0.decodableVideo && (!audio || $0.audioBuffers > 0) }
                }
                return receiving ? true : nil
            }
        } catch {
            let peers = try await snapshot().peers.map(Self.described)
            throw Timeout(description: "\(error); \(id) has: \(peers.joined(separator: ", ")); last seen of them: \(seen)")
        }
    }

    private static func described(_ peer: GatewaySnapshot.Peer) -> String {
        "\(peer.id) \(peer.state) video \(peer.videoBuffers) (decodable: \(peer.decodableVideo)) audio \(peer.audioBuffers)"
    }

    /// The video buffers received from `peer` so far.
    func videoBuffers(from peer: String) async -> Int {
        (try? await snapshot().peers.first { $0.id == peer }?.videoBuffers) ?? 0
    }

    /// Leaves the call (close_connection, recordings finalised) and waits until it has.
    func leave() async throws {
        gateway.stop()
        try await task.value
    }

    /// The recordings written so far, oldest first.
    func recordings(of peer: String) -> [String] {
        guard let recordDirectory else { return [] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: recordDirectory)) ?? []
        return files.filter { $0.hasPrefix(peer + "-") && $0.hasSuffix(".mkv") }.sorted().map { "\(recordDirectory)/\($0)" }
    }
}

/// Sends nothing and receives everything: a pure recorder (or counter, with `record: false`).
func receiveOnly(_ configuration: inout GatewayConfiguration) {
    configuration.video = .none
    configuration.audio = .none
}

/// A fresh folder under the system's temporary directory.
func temporaryDirectory(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("meshgate-\(prefix)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
