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
            try await eventually("host to notice the server is gone") { try await host.snapshot().registered ? nil : true }
            let before = await peer.videoBuffers(from: "host")
            try await eventually("video to go on flowing without the server") {
                await peer.videoBuffers(from: "host") > before + 10 ? true : nil
            }

            let restarted = try await TestServer.start(port: port)
            second = restarted
            try await eventually("host to register again", within: .seconds(20)) { try await host.snapshot().registered ? true : nil }
            let newcomer = try await TestGateway.join(restarted.url, id: "newcomer", receiveOnly)
            gateways.append(newcomer)
            try await newcomer.waitForMedia(from: ["host"])
            try await Task.sleep(for: .seconds(1.5))
            // The peer that was connected before stays connected: its session was kept, so its
            // count of frames from the host went on from before the restart.
            #expect(try await host.snapshot().peers.map(\.id) == ["newcomer", "peer"])
            #expect(try await peer.snapshot().peers.first { $0.id == "host" }?.state == "connected")
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

    /// The server drops a paused gateway at its ping timeout and tells the room it left; the
    /// others close their side. When it goes on, it registers again and must find that out
    /// itself (ICE still says connected) and offer again.
    @Test func aGatewayPausedPastThePingTimeoutGetsItsPeersBack() async throws {
        try await Call.run(configuring: { $0.pingInterval = 1 }) { call in
            let receiver = try await call.join("receiver", record: false, receiveOnly)
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--size", "320x240", "--fps", "15",
                                              "--ice-address", "127.0.0.1"])
            defer { sender.signal(SIGKILL) }
            try await receiver.waitForMedia(from: ["sender"])
            sender.signal(SIGSTOP)
            try await eventually("the room to learn the sender left", within: .seconds(10)) {
                try await receiver.snapshot().peers.isEmpty ? true : nil
            }
            sender.signal(SIGCONT)
            try await eventually("video from the sender again", within: .seconds(20)) {
                await receiver.videoBuffers(from: "sender") > 10 ? true : nil
            }
            #expect(sender.stderr.contains("peer closed our connection while our signalling was away; offering again"), "\(sender.stderr)")
        }
    }

    /// The same with the browser client on the other side: it closes its side when the server
    /// says the gateway left, and takes the gateway's new offer when it is back.
    @Test func aBrowserGetsAPausedGatewayBack() async throws {
        try await Call.run(configuring: { $0.pingInterval = 1 }) { call in
            let browser = try call.open(.chromium, id: "browser")
            try await browser.waitUntil("registered") { $0.registered }
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--size", "320x240", "--fps", "15",
                                              "--ice-address", "127.0.0.1"])
            defer { sender.signal(SIGKILL) }
            try await browser.waitUntil("video from the gateway") { $0.receives(from: "sender") }
            sender.signal(SIGSTOP)
            try await browser.waitUntil("the page to drop the paused gateway", within: .seconds(10)) { $0.peers["sender"] == nil }
            sender.signal(SIGCONT)
            try await browser.waitUntil("video from the gateway again", within: .seconds(25)) { $0.receives(from: "sender", width: 320, height: 240) }
            #expect(sender.stderr.contains("peer closed our connection while our signalling was away; offering again"), "\(sender.stderr)")
        }
    }

    /// With the server gone nobody is told anything: what arrives shows a peer has stopped.
    @Test func aPeerFromWhichNothingComesIsStalledUntilItSendsAgain() async throws {
        try await Call.run { call in
            let receiver = try await call.join("receiver", record: false, receiveOnly)
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--size", "320x240", "--fps", "15",
                                              "--ice-address", "127.0.0.1"])
            defer { sender.signal(SIGKILL) }
            try await receiver.waitForMedia(from: ["sender"])
            try await call.stopServer()
            sender.signal(SIGSTOP)
            try await eventually("the sender to show as stalled", within: .seconds(15)) {
                try await receiver.snapshot().peers.first { $0.id == "sender" }?.stalled == true ? true : nil
            }
            #expect(try await receiver.snapshot().peers.first { $0.id == "sender" }?.state == "connected")
            sender.signal(SIGCONT)
            try await eventually("the sender to send again", within: .seconds(15)) {
                try await receiver.snapshot().peers.first { $0.id == "sender" }?.stalled == false ? true : nil
            }
        }
    }
}
