import Foundation
import MeshGateway
import MeshTestSupport
import Testing

/// Hub rooms (`/hub/NAME`) on a `meshgate serve` process: each participant holds one peer
/// connection, to the server's hub, and receives the composed picture of everyone and a mix
/// of everyone but itself.
@Suite(.serialized)
struct HubTests {
    static let room = "/hub/x"
    static let serving = ["--log-level", "debug", "--hub-size", "640x360", "--hub-fps", "15", "--hub-bitrate", "600", "--hub-ice-address", "127.0.0.1"]

    /// Two browser pages and four gateways, each gateway with a tone of its own: everyone has
    /// exactly one peer, the hub, and decodes its picture at the hub's size (the page shows
    /// it large, its own camera small); each gateway's recording of the hub has the others'
    /// tones and not its own.
    @Test func sixParticipantsEachHoldOneConnectionAndHearEveryoneButThemselves() async throws {
        let tones = ["g1": 600, "g2": 900, "g3": 1500, "g4": 2500]
        try await Call.run(serving: Self.serving) { call in
            var gateways: [TestGateway] = []
            for id in tones.keys.sorted() {
                let hertz = tones[id] ?? 0
                gateways.append(try await call.join(id, at: Self.room) { $0.audio = .tone(hertz: hertz) })
            }
            let pages = try ["p1", "p2"].map { try call.open(.chromium, id: $0, path: Self.room) }
            for page in pages {
                try await page.waitUntil("the hub's picture and nobody else", within: .seconds(45)) { report in
                    report.receives(from: "hub", width: 640, height: 360) && report.peers.keys.sorted() == ["hub"]
                        && report.list.sorted() == ["hub", report.id]
                }
            }
            for gateway in gateways {
                try await gateway.waitForMedia(from: ["hub"])
                #expect(try await gateway.snapshot().peers.map(\.id) == ["hub"])
            }
            // The page shows the hub's picture large, its own camera small, and says why.
            let page = try await pages[0].devTools()
            let shown = try await page.evaluate("""
                (() => { const hub = document.querySelector('.tile:not(#self)').getBoundingClientRect();
                  const own = document.getElementById('self').getBoundingClientRect();
                  return [document.getElementById('hubnote').hidden ? '' : document.getElementById('hubnote').textContent,
                          document.getElementById('room').textContent, Math.round(hub.width / own.width)].join('|'); })()
                """) as? String
            await page.close()
            let parts = shown?.split(separator: "|").map(String.init) ?? []
            #expect(parts.count == 3 && parts[0].contains("goes through a hub") && parts[1] == "hub room x" && (Int(parts[2]) ?? 0) >= 3, "\(shown ?? "nothing")")
            // Everyone in everyone's mix for a while, then all leave at once. The leaves end
            // the recordings a little apart (a busy machine: a second or two), so the others'
            // tones are looked for in 3-s windows over the last 8 s: one of them must have them
            // all, as one hears them (a busy mixer's glitches do not hide a tone). A gateway's
            // own tone is in none of those that have sound.
            try await Task.sleep(for: .seconds(6))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for gateway in gateways { group.addTask { try await gateway.leave() } }
                try await group.waitForAll()
            }

            let windows = [1.0...4.0, 2.5...5.5, 4.0...7.0, 5.0...8.0]
            for gateway in gateways {
                let recordings = gateway.recordings(of: "hub")
                try #require(recordings.count == 1, "\(gateway.id) recorded \(recordings)")
                let media = try await DecodedMedia.decode(recordings[0])
                #expect(media.width == 640 && media.height == 360, "\(gateway.id)")
                let heard = try await MediaAnalysis.heard(in: recordings[0], hertz: Array(tones.values), windows: windows)

                let others = tones.filter { $0.key != gateway.id }.values
                #expect(heard.contains { window in others.allSatisfy { window[$0, default: 0] > 0.01 } },
                        "\(gateway.id) does not hear all of \(others.sorted()) at once: \(heard)")
                // Only where the mix has sound: a share of near silence (after the leaves) is noise.
                let own = tones[gateway.id] ?? 0
                let sounding = heard.filter { window in others.contains { window[$0, default: 0] > 0.01 } }
                #expect(sounding.allSatisfy { $0[own, default: 1] < 0.002 }, "\(gateway.id) hears itself: \(heard)")
            }
        }
    }

    /// The grid follows who is in the room (by join: alice, bob, then carol without video), and
    /// those who stay keep their one connection through it all.
    @Test func aParticipantLeavingAndOneJoiningReLayTheGridAndNobodyElseReconnects() async throws {
        try await Call.run(serving: Self.serving) { call in
            let alice = try await call.join("alice", at: Self.room)
            let bob = try await call.join("bob", at: Self.room, record: false)
            try await alice.waitForMedia(from: ["hub"])
            try await Task.sleep(for: .seconds(3))
            // Two side by side: bars left and right.
            let two = try await Self.pictureNow(of: alice)
            #expect(MediaAnalysis.spread(two, width: 64, x: 0.05...0.45, y: 0.4...0.6) > 30)
            #expect(MediaAnalysis.spread(two, width: 64, x: 0.55...0.95, y: 0.4...0.6) > 30)

            let carol = try await call.join("carol", at: Self.room, record: false) { $0.video = .none }
            try await carol.waitForMedia(from: ["hub"])
            try await Task.sleep(for: .seconds(3))
            // Alice and bob above, carol's gray placeholder below in the middle.
            let three = try await Self.pictureNow(of: alice)
            #expect(MediaAnalysis.spread(three, width: 64, x: 0.1...0.4, y: 0.1...0.35) > 30)
            #expect(MediaAnalysis.spread(three, width: 64, x: 0.6...0.9, y: 0.1...0.35) > 30)
            #expect(MediaAnalysis.spread(three, width: 64, x: 0.3...0.7, y: 0.55...0.7) < 5)
            #expect((35...75).contains(MediaAnalysis.mean(three, width: 64, x: 0.3...0.7, y: 0.55...0.7)))
            #expect(MediaAnalysis.mean(three, width: 64, x: 0.0...0.2, y: 0.55...0.95) < 20)

            try await bob.leave()
            try await Task.sleep(for: .seconds(3))
            // Side by side again: alice's bars left, carol's gray right.
            let again = try await Self.pictureNow(of: alice)
            #expect(MediaAnalysis.spread(again, width: 64, x: 0.05...0.45, y: 0.4...0.6) > 30)
            #expect(MediaAnalysis.spread(again, width: 64, x: 0.55...0.95, y: 0.6...0.9) < 5)
            #expect((35...75).contains(MediaAnalysis.mean(again, width: 64, x: 0.55...0.95, y: 0.6...0.9)))

            for gateway in [alice, carol] {
                #expect(try await gateway.snapshot().peers.map(\.id) == ["hub"], "\(gateway.id)")
            }
            #expect(alice.recordings(of: "hub").count == 1, "alice connected to the hub again")
        }
    }

    /// The page written for the original design, unchanged, is in a hub room's call.
    @Test func aPageWrittenForTheOriginalProtocolWorksInAHubRoom() async throws {
        try await Call.run(serving: Self.serving) { call in
            let gateway = try await call.join("gw", at: Self.room, record: false)
            let page = try call.open(.chromium, id: "original", fixture: "original-client.html", path: Self.room)
            let report = try await page.waitUntil("the hub's picture") { $0.receives(from: "hub", width: 640, height: 360) }
            #expect(report.list.sorted() == ["hub", "original"])
            #expect(report.peers.keys.sorted() == ["hub"])
            try await gateway.waitForMedia(from: ["hub"])
            #expect(try await gateway.snapshot().peers.map(\.id) == ["hub"])
        }
    }

    /// `serve`'s hub options are checked before anything starts, each with one clear line.
    @Test(arguments: [
        (["--hub-size", "100x7"], "--hub-size must be WIDTHxHEIGHT with even numbers"),
        (["--hub-fps", "0"], "--hub-fps must be between 1 and 60"),
        (["--hub-bitrate", "10"], "--hub-bitrate must be between 100 and 50000 kbit/s"),
        (["--hub-video-codec", "vp9"], "--hub-video-codec must be vp8, h264, or both best first"),
        (["--hub-ice-address", "localhost"], "--hub-ice-address must be an IP address"),
    ])
    func aBadHubOptionIsAUsageError(arguments: [String], message: String) async throws {
        let result = try await MeshgateProcess.run(["serve", "--port", "0"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// The hub's picture as `gateway` has recorded it so far, 64x36 in gray, a second before its end.
    private static func pictureNow(of gateway: TestGateway) async throws -> [UInt8] {
        let recording = try #require(gateway.recordings(of: "hub").last)
        let copy = try temporaryDirectory("hub") + "/sofar.mkv"
        try FileManager.default.copyItem(atPath: recording, toPath: copy)
        return try await MediaAnalysis.frame(of: copy, width: 64, height: 36, fromEnd: 1)
    }
}
