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
        try await seeAndHearEachOther(.chromium, gatewayFirst: gatewayFirst, codec: codec)
    }

    @Test(arguments: [true, false], VideoCodec.allCases)
    func aGatewayAndFirefoxSeeAndHearEachOther(gatewayFirst: Bool, codec: VideoCodec) async throws {
        try await seeAndHearEachOther(.firefox, gatewayFirst: gatewayFirst, codec: codec)
    }

    /// Media both ways between one gateway and one browser; the browser offers when it joins second.
    private func seeAndHearEachOther(_ kind: Browser.Kind, gatewayFirst: Bool, codec: VideoCodec) async throws {
        try await Call.run { call in
            let gateway: TestGateway, browser: Browser
            if gatewayFirst {
                gateway = try await call.join("gw") { $0.videoCodec = codec }
                browser = try call.open(kind, id: "browser")
            } else {
                browser = try call.open(kind, id: "browser")
                try await browser.waitUntil("registered") { $0.registered }
                gateway = try await call.join("gw") { $0.videoCodec = codec }
            }
            let report = try await browser.waitUntil("video at 320x240 and audio from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            try await gateway.waitForMedia(from: ["browser"])
            expectNegotiated(report.peers["gw"], browserOffered: gatewayFirst, codec: codec)
            let camera = try #require(report.local["video"])
            try await Task.sleep(for: .seconds(1.5))
            try await browser.close()
            try await eventually("gw to see the browser leave") { try await gateway.snapshot().peers.isEmpty ? true : nil }
            let path = try #require(gateway.recordings(of: "browser").first)
            let media = try await DecodedMedia.decode(path)
            #expect(media.videoFrames >= 5 && media.audioBuffers > 0, "\(path): \(media.videoFrames) frames, \(media.audioBuffers) audio buffers")
            // A browser may scale its video down when the CPU is busy, never the other way.
            let (width, height) = (media.width ?? 0, media.height ?? 0)
            #expect(width <= camera.width ?? 0 && width > 0 && abs(width * (camera.height ?? 0) - height * (camera.width ?? 0)) <= 2 * width,
                    "\(path) is \(width)x\(height), the camera \(camera.width ?? 0)x\(camera.height ?? 0)")
        }
    }

    /// Chromium paces what it sends a peer by that peer's transport-cc feedback, which needs the
    /// transport-wide sequence numbers in both descriptions. Without them it has only loss reports
    /// to go on, and creeps up from about 300 kbit/s for most of a minute.
    @Test(arguments: [true, false])
    func chromiumFindsTheRoomToAGatewayFromItsFeedback(gatewayFirst: Bool) async throws {
        try await Call.run { call in
            let browser: Browser
            if gatewayFirst {
                _ = try await call.join("gw", record: false, receiveOnly)
                browser = try call.open(.chromium, id: "wide", query: ["size": "1280x720"])
            } else {
                browser = try call.open(.chromium, id: "wide", query: ["size": "1280x720"])
                try await browser.waitUntil("registered") { $0.registered }
                _ = try await call.join("gw", record: false, receiveOnly)
            }
            // With feedback the estimate passes 3 Mbit/s in about 7 s on loopback; on loss reports
            // alone it climbs 8 % a second from 300 kbit/s, and is under 1 Mbit/s at 15 s.
            let report = try await browser.waitUntil("an estimate of 1.5 Mbit/s for gw", within: .seconds(15)) {
                ($0.peers["gw"]?.sendEstimateKbps ?? 0) >= 1500
            }
            expectTransportWideCC(try #require(report.peers["gw"]))
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
            try await eventually("gw to see rejoin leave") { try await gateway.snapshot().peers.map(\.id) == ["stay"] ? true : nil }
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
    expectTransportWideCC(peer, sourceLocation: sourceLocation)
}

/// Both descriptions number packets for transport-wide congestion control, so that the browser
/// sends at the rate the link allows.
func expectTransportWideCC(_ peer: BrowserReport.Peer, sourceLocation: SourceLocation = #_sourceLocation) {
    for description in [peer.localDescription, peer.remoteDescription] {
        let line = SDPSummary(description ?? "").lines.first { $0.kind == "video" }
        #expect(line?.extensionID(TransportWideCC.uri) != nil, "no transport-wide-cc in \(description ?? "nil")", sourceLocation: sourceLocation)
    }
}

/// The browser client driven as a person drives it: typing a name, clicking Join, the camera and
/// microphone buttons and Leave (Chromium's DevTools do the clicks); and what the person sees.
@Suite(.serialized)
struct BrowserClientTests {
    @Test func aPersonJoinsByHandTurnsCameraAndMicrophoneOffAndOnLeavesAndJoinsAgain() async throws {
        try await Call.run { call in
            let gateway = try await call.join("gw", record: false) { $0.name = "Lab camera" }
            let browser = try call.open(.chromium, id: "dora", autojoin: false)
            let page = try await browser.devTools()
            defer { Task { await page.close() } }
            // The form is there before the script that handles it; a click before would reload the page.
            try await eventually("the client's script") { try await page.evaluate("typeof window.meshgate === 'object'") as? Bool == true ? true : nil }
            try await page.evaluate("document.getElementById('name').value = 'Dora'; document.querySelector('#join button').click()")
            try await browser.waitUntil("media from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            try await gateway.waitForMedia(from: ["dora"])
            let label = try await page.evaluate("document.querySelector('[data-peer=gw] figcaption').textContent") as? String
            #expect(label == "Lab camera · connected")

            for (button, kind) in [("camera", "video"), ("mic", "audio")] {
                try await page.evaluate("document.getElementById('\(button)').click()")
                try await browser.waitUntil("no local \(kind)") { $0.local[kind] == nil }
                let stopped = try await received(kind, by: gateway, from: "dora")
                try await Task.sleep(for: .seconds(1))
                #expect(try await received(kind, by: gateway, from: "dora") <= stopped + 2, "\(kind) still arrives with its button off")
                try await page.evaluate("document.getElementById('\(button)').click()")
                try await browser.waitUntil("local \(kind) again") { $0.local[kind] != nil }
                try await eventually("\(kind) to arrive again") { try await received(kind, by: gateway, from: "dora") > stopped + 10 ? true : nil }
            }

            try await page.evaluate("document.getElementById('leave').click()")
            try await browser.waitUntil("left") { !$0.joined && $0.peers.isEmpty && $0.socket == "closed" }
            try await eventually("gw to see dora leave") { try await gateway.snapshot().peers.isEmpty ? true : nil }
            try await page.evaluate("document.querySelector('#join button').click()")
            try await browser.waitUntil("media from gw after joining again") { $0.receives(from: "gw") }
            try await gateway.waitForMedia(from: ["dora"])

            // Leave and Join at once: the old socket's late close must not disturb the new one.
            try await page.evaluate("document.getElementById('leave').click(); document.querySelector('#join button').click()")
            try await Task.sleep(for: .seconds(2))
            let report = try await browser.waitUntil("media from gw after leaving and joining at once") { $0.receives(from: "gw") }
            #expect(report.socket == "open" && report.registered)
            #expect(!report.problems.contains { $0.contains("already in this call") || $0.contains("signalling lost") }, "\(report.problems)")
            try await gateway.waitForMedia(from: ["dora"])
        }
    }

    @Test func roomAndTokenComeFromThePageURL() async throws {
        try await Call.run(configuring: { $0.token = "s3cret" }) { call in
            let gateway = try await call.join("gw", at: "/room/blue?token=s3cret", record: false)
            let lobby = try await call.join("lobby", at: "/?token=s3cret", record: false, receiveOnly)
            let browser = try call.open(.chromium, id: "viewer", path: "/room/blue", query: ["token": "s3cret"])
            let report = try await browser.waitUntil("media from gw") { $0.receives(from: "gw") }
            #expect(report.list.sorted() == ["gw", "viewer"])
            try await gateway.waitForMedia(from: ["viewer"])
            #expect(try await lobby.snapshot().peers.isEmpty)

            let stranger = try call.open(.chromium, id: "stranger", path: "/room/blue")
            try await stranger.waitUntil("to be refused, saying why") { report in
                !report.registered && report.problems.contains { $0.contains("add ?token=SECRET") }
                    && report.problems.contains { $0.contains("refused by the server") }
            }
            try await Task.sleep(for: .seconds(2.5))
            // Refused once, it does not knock again and again.
            #expect(try #require(stranger.report).problems.count { $0.contains("refused by the server") } == 1)
        }
    }

    @Test func thePageSendsTheCodecAndSizeItsURLAsksFor() async throws {
        try await Call.run { call in
            let recorder = try await call.join("recorder", receiveOnly)
            let browser = try call.open(.chromium, id: "wide", query: ["codec": "h264", "size": "1280x720"])
            let report = try await browser.waitUntil("H.264 sent to the recorder") { $0.peers["recorder"]?.sent["video"]?.codec == "video/H264" }
            #expect(report.local["video"]?.width == 1280 && report.local["video"]?.height == 720)
            try await recorder.waitForMedia(from: ["wide"])
        }
    }

    /// Over plain http from another machine a page gets no camera or microphone: it says so,
    /// and still joins to watch and listen.
    @Test func aPageThatIsNotASecureContextWatchesAndListensOnly() async throws {
        try await Call.run { call in
            let gateway = try await call.join("gw", record: false)
            let browser = try call.open(.chromium, id: "viewer", host: "meshgate.test")
            let report = try await browser.waitUntil("media from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            #expect(report.local.isEmpty)
            #expect(report.problems.contains { $0.contains("need https://") })
            try await Task.sleep(for: .seconds(1))
            let peer = try #require(try await gateway.snapshot().peers.first { $0.id == "viewer" })
            #expect(peer.state == "connected" && peer.videoBuffers == 0 && peer.audioBuffers == 0)
        }
    }

    @Test func theClientRejoinsWhenTheServerRestartsAndKeepsItsConnections() async throws {
        try await Call.run { call in
            _ = try await call.join("gw", record: false)
            let browser = try call.open(.chromium, id: "chrome")
            try await browser.waitUntil("media from gw") { $0.receives(from: "gw") }

            try await call.stopServer()
            let before = try await browser.waitUntil("signalling lost") { !$0.registered }.framesDecoded(from: "gw")
            try await browser.waitUntil("video to go on without the server") { $0.framesDecoded(from: "gw") > before + 20 }

            try await call.startServerAgain()
            try await browser.waitUntil("registered again") { $0.registered && $0.list.contains("chrome") }
            let newcomer = try await call.join("newcomer", record: false, receiveOnly)
            try await newcomer.waitForMedia(from: ["chrome", "gw"])
            let report = try await browser.waitUntil("the newcomer listed") { $0.peers["newcomer"] != nil }
            #expect(report.peers["gw"]?.connectionState == "connected")
            #expect(report.framesDecoded(from: "gw") > before + 20)
        }
    }

    /// A screenshot of the client in a real call, for README; `MESHGATE_SCREENSHOT=PATH` keeps it.
    @Test func theClientShowsEveryoneWithNameAndState() async throws {
        try await Call.run { call in
            _ = try await call.join("lab", record: false) { $0.name = "Lab camera"; $0.width = 640; $0.height = 480 }
            _ = try await call.join("pi", record: false) { $0.name = "Kiosk Pi"; $0.width = 640; $0.height = 480; $0.videoCodec = .h264 }
            let browser = try call.open(.chromium, id: "dora", name: "Dora")
            try await browser.waitUntil("media from both gateways") { $0.receives(from: "lab") && $0.receives(from: "pi") }
            let page = try await browser.devTools()
            defer { Task { await page.close() } }
            let labels = try await page.evaluate("[...document.querySelectorAll('figcaption')].map(c => c.textContent).join('|')") as? String
            #expect(labels == "Dora (you)|Lab camera · connected|Kiosk Pi · connected")
            let png = try await page.screenshot()
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "\(png.count) bytes")
            if let path = ProcessInfo.processInfo.environment["MESHGATE_SCREENSHOT"] {
                try png.write(to: URL(fileURLWithPath: path))
            }
        }
    }
}

/// Video or audio buffers `gateway` has received from `peer`.
private func received(_ kind: String, by gateway: TestGateway, from peer: String) async throws -> Int {
    let entry = try #require(try await gateway.snapshot().peers.first { $0.id == peer })
    return kind == "video" ? entry.videoBuffers : entry.audioBuffers
}
