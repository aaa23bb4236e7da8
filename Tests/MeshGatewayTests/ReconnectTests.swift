import Foundation
import MeshTestSupport
import Testing

/// The signalling server goes away mid-call and comes back on the same port.
@Suite(.serialized)
struct ReconnectTests {
    @Test func mediaFlowsWhileTheServerIsDownAndTheGatewayRejoinsItsRestart() async throws {
        let first = try await TestServer.start()
        let port = first.port
        var gateways: [TestGateway] = []
        var second: TestServer?
        do {
            let host = try await TestGateway.join(first.url, id: "host", record: false)
            gateways.append(host)
            let peer = try await TestGateway.join(first.url, id: "peer", record: false, receiveOnly)
            gateways.append(peer)
            try await peer.waitForMedia(from: ["host"])

            try await first.stop()
            try await eventually("host to notice the server is gone") { await host.snapshot().registered ? nil : true }
            let before = await peer.videoBuffers(from: "host")
            try await eventually("video to go on flowing without the server") {
                await peer.videoBuffers(from: "host") > before + 10 ? true : nil
            }

            let restarted = try await TestServer.start(port: port)
            second = restarted
            try await eventually("host to register again", within: .seconds(20)) { await host.snapshot().registered ? true : nil }
            let newcomer = try await TestGateway.join(restarted.url, id: "newcomer", receiveOnly)
            gateways.append(newcomer)
            try await newcomer.waitForMedia(from: ["host"])
            try await Task.sleep(for: .seconds(1.5))
            // The peer that was connected before stays connected: its session was kept, so its
            // count of frames from the host went on from before the restart.
            #expect(await host.snapshot().peers.map(\.id) == ["newcomer", "peer"])
            #expect(await peer.snapshot().peers.first { $0.id == "host" }?.state == "connected")
            #expect(await peer.videoBuffers(from: "host") > before + 10)
        } catch {
            for gateway in gateways { try? await gateway.leave() }
            try? await second?.stop()
            throw error
        }
        for gateway in gateways { try await gateway.leave() }
        try await second?.stop()
        try await expectRecording(gateways[2].recordings(of: "host").first)
    }
}
