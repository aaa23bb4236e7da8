import Foundation
import MeshTestSupport
import Testing

/// One shared encoder feeds every peer, so each request for a keyframe (a peer that joins,
/// a receiver's PLI) costs every peer one: the sender lets them through at most twice a
/// second, and a crowd of joiners shares them.
@Suite(.serialized)
struct KeyframeTests {
    @Test func sixJoinersWithinASecondCostAFewKeyframesNotOneEach() async throws {
        try await Call.run { call in
            let sender = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "sender", "--audio", "none",
                                              "--size", "320x240", "--fps", "15", "--ice-address", "127.0.0.1", "--stats", "0.25"])
            defer { sender.signal(SIGKILL) }
            let first = try await call.join("first", record: false, receiveOnly)
            try await first.waitForMedia(from: ["sender"], audio: false)
            try await Task.sleep(for: .seconds(1))
            let before = try #require(Self.keyframes(in: sender.stdout), "no keyframes_out in: \(sender.stdout.suffix(400))")

            var joiners: [TestGateway] = []
            let start = ContinuousClock.now
            for index in 1...6 { joiners.append(try await call.join("joiner\(index)", record: false, receiveOnly)) }
            let joining = ContinuousClock.now - start
            for joiner in joiners { try await joiner.waitForMedia(from: ["sender"], audio: false) }
            // Requests come from the joins until the last joiner decodes.
            let asking = ContinuousClock.now - start
            // A request held back goes out within half a second; a stats line follows.
            try await Task.sleep(for: .seconds(1))
            let made = try #require(Self.keyframes(in: sender.stdout)) - before

            // The first request at once, then one per half second while they ask: three for
            // joiners that all decode within a second. (The encoders' own keyframe comes 5 s
            // after the last one made on request: not in this window.) Without the limit each
            // joiner costs at least one.
            let allowed = Int((asking / .milliseconds(500)).rounded(.up)) + 1
            #expect(made <= allowed, "\(made) keyframes while \(joiners.count) joiners asked for \(asking) (joins took \(joining))")
        }
    }

    /// The latest `keyframes_out` of a sender's `--stats` lines.
    static func keyframes(in stdout: String) -> Int? {
        stdout.split(separator: "\n").reversed().lazy.compactMap { line -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["keyframes_out"] as? Int
        }.first
    }
}
