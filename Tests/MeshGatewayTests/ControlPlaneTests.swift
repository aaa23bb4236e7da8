import Foundation
import Logging
@testable import MeshGateway
import MeshTestSupport
import Testing

/// The gateway's loop as a whole: it ends cleanly, nothing waits on it once it has, and
/// signalling never waits behind statistics.
@Suite(.serialized) struct ControlPlaneTests {
    @Test func aGatewayThatCannotStartFailsAtOnceAndAnswersNoSnapshot() async throws {
        let server = try await TestServer.start()
        let started = ContinuousClock.now
        await #expect(throws: GatewayError.self) {
            _ = try await TestGateway.join(server.url, id: "broken") { $0.video = .file("/nonexistent/clip.mkv") }
        }
        #expect(ContinuousClock.now - started < .seconds(10))

        var configuration = GatewayConfiguration()
        configuration.serverURL = server.url
        configuration.video = .file("/nonexistent/clip.mkv")
        let gateway = Gateway(configuration: configuration, logger: Logger(label: "test.broken"))
        await #expect(throws: GatewayError.self) { try await gateway.run() }
        let snapshot = await gateway.snapshot()
        #expect(snapshot == nil)
        try await server.stop()
    }

    @Test func aStoppedGatewayAnswersNoSnapshot() async throws {
        let server = try await TestServer.start()
        let gateway = try await TestGateway.join(server.url, id: "leaver", record: false)
        try await gateway.leave()
        let snapshot = await gateway.gateway.snapshot()
        #expect(snapshot == nil)
        try await server.stop()
    }

    /// With 8 connected peers and a `--stats` round every second, a newcomer's offer is
    /// answered as fast as with no statistics: webrtcbin answers those on its own time.
    @Test func statisticsDoNotDelayAnswers() async throws {
        let withoutStatistics = try await answerTimes(statistics: nil)
        let withStatistics = try await answerTimes(statistics: 1)
        let slowest = try #require(withStatistics.max()), usual = try #require(withoutStatistics.sorted().last)
        #expect(slowest < usual * 2 + .milliseconds(150), "with --stats: \(withStatistics), without: \(withoutStatistics)")
    }

    /// How long a gateway with 8 connected peers takes to answer each of several newcomers' offers.
    private func answerTimes(statistics: Double?) async throws -> [Duration] {
        let server = try await TestServer.start()
        let host = try await TestGateway.join(server.url, id: "host", record: false) { $0.statsInterval = statistics }
        var peers: [TestGateway] = []
        for index in 1...8 { peers.append(try await TestGateway.join(server.url, id: "peer\(index)", record: false, receiveOnly)) }
        try await eventually("every peer to connect", within: .seconds(30)) { () async throws -> Bool? in
            let states = try await host.snapshot().peers.map(\.state)
            return states.count == 8 && states.allSatisfy { $0 == "connected" } ? true : nil
        }
        var times: [Duration] = []
        for index in 1...5 {
            let newcomer = try await HostilePeer.join(server.url, id: "newcomer\(index)", target: "host")
            // A statistics round runs about now, every second.
            try await Task.sleep(for: .milliseconds(200 * index))
            let start = ContinuousClock.now
            try await newcomer.offerAndWaitForTheAnswer()
            times.append(ContinuousClock.now - start)
            await newcomer.client.close()
        }
        for peer in peers { try await peer.leave() }
        try await host.leave()
        try await server.stop()
        return times
    }
}
