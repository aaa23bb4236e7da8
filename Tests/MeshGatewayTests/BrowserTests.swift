import Foundation
@testable import MeshGateway
import MeshTestSupport
import Testing

/// Gateways and real headless Chromium in one call: the browser client served by the call's
/// server, Chromium's fake camera (640x480) and microphone, everything on loopback. Each page
/// reports what it decodes; each gateway records what it receives.
@Suite(.serialized)
struct BrowserTests {
    @Test(arguments: [true, false], VideoCodec.allCases)
    func aGatewayAndChromiumSeeAndHearEachOther(gatewayFirst: Bool, codec: VideoCodec) async throws {
        try await Call.run { call in
            let gateway: TestGateway, browser: Browser
            if gatewayFirst {
                gateway = try await call.join("gw") { $0.videoCodec = codec }
                browser = try call.open(.chromium, id: "chrome")
            } else {
                browser = try call.open(.chromium, id: "chrome")
                try await browser.waitUntil("registered") { $0.registered }
                gateway = try await call.join("gw") { $0.videoCodec = codec }
            }
            let report = try await browser.waitUntil("video at 320x240 and audio from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            try await gateway.waitForMedia(from: ["chrome"])
            expectNegotiated(report.peers["gw"], browserOffered: gatewayFirst, codec: codec)
            try await Task.sleep(for: .seconds(1.5))
            try await browser.close()
            try await eventually("gw to see chrome leave") { await gateway.snapshot().peers.isEmpty ? true : nil }
            try await expectRecording(gateway.recordings(of: "chrome").first, width: 640, height: 480)
        }
    }

    @Test func twoBrowsersAndTwoGatewaysEachReceiveEveryone() async throws {
        try await Call.run { call in
            let ann = try call.open(.chromium, id: "ann")
            try await ann.waitUntil("registered") { $0.registered }
            let gw1 = try await call.join("gw1", record: false)
            let bob = try call.open(.chromium, id: "bob")
            try await bob.waitUntil("registered") { $0.registered }
            let gw2 = try await call.join("gw2", record: false)
            let everyone = ["ann", "bob", "gw1", "gw2"]
            for browser in [ann, bob] {
                let others = everyone.filter { $0 != browser.id }
                try await browser.waitUntil("media from \(others)") { report in others.allSatisfy { report.receives(from: $0) } }
            }
            for gateway in [gw1, gw2] {
                try await gateway.waitForMedia(from: everyone.filter { $0 != gateway.id })
            }
        }
    }

    @Test func aBrowserLeavesAndRejoinsWithTheSameIdWhileTheGatewayServesTheOthers() async throws {
        try await Call.run { call in
            let gateway = try await call.join("gw")
            let stay = try call.open(.chromium, id: "stay")
            var rejoin = try call.open(.chromium, id: "rejoin")
            try await rejoin.waitUntil("media from gw and stay") { $0.receives(from: "gw") && $0.receives(from: "stay") }
            try await gateway.waitForMedia(from: ["stay", "rejoin"])

            try await rejoin.close()
            try await eventually("gw to see rejoin leave") { await gateway.snapshot().peers.map(\.id) == ["stay"] ? true : nil }
            let before = try #require(stay.report).framesDecoded(from: "gw")
            try await stay.waitUntil("gw's video to keep coming and rejoin to be gone") { report in
                report.framesDecoded(from: "gw") > before + 20 && report.peers["rejoin"] == nil && report.list.sorted() == ["gw", "stay"]
            }

            rejoin = try call.open(.chromium, id: "rejoin")
            try await rejoin.waitUntil("media from gw and stay again") { $0.receives(from: "gw") && $0.receives(from: "stay") }
            try await stay.waitUntil("media from rejoin again") { $0.receives(from: "rejoin") }
            try await eventually("a second recording of rejoin") { gateway.recordings(of: "rejoin").count == 2 ? true : nil }
            try await gateway.waitForMedia(from: ["stay", "rejoin"])
            #expect(try #require(stay.report).receives(from: "gw"))
        }
    }

    @Test(arguments: [true, false])
    func aPageWrittenForTheOriginalProtocolCallsTheGateway(gatewayFirst: Bool) async throws {
        try await Call.run { call in
            let gateway: TestGateway, page: Browser
            if gatewayFirst {
                gateway = try await call.join("gw")
                page = try call.open(.chromium, id: "original", fixture: "original-client.html")
            } else {
                page = try call.open(.chromium, id: "original", fixture: "original-client.html")
                try await page.waitUntil("registered") { $0.registered }
                gateway = try await call.join("gw")
            }
            let report = try await page.waitUntil("video and audio from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            #expect(report.peers["gw"]?.role == (gatewayFirst ? "offer" : "answer"))
            try await gateway.waitForMedia(from: ["original"])
        }
    }
}

/// Who offered, which codec the browser decodes, and that the payload type is the offer's.
func expectNegotiated(_ peer: BrowserReport.Peer?, browserOffered: Bool, codec: VideoCodec,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    guard let peer else {
        Issue.record("no such peer in the report", sourceLocation: sourceLocation)
        return
    }
    #expect(peer.role == (browserOffered ? "offer" : "answer"), sourceLocation: sourceLocation)
    let video = peer.received["video"]
    #expect(video?.codec?.uppercased() == "VIDEO/" + codec.encodingName, sourceLocation: sourceLocation)
    let offer = (browserOffered ? peer.localDescription : peer.remoteDescription) ?? ""
    let offered = SDPSummary(offer).lines.first { $0.kind == "video" }?.codecs ?? []
    #expect(offered.contains { $0.payloadType == video?.payloadType && $0.encodingName == codec.encodingName },
            "payload type \(String(describing: video?.payloadType)) is not \(codec.encodingName) in the offer", sourceLocation: sourceLocation)
}
