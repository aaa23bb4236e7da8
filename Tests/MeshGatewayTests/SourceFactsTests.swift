@testable import MeshGateway
import Testing

/// When a source's video goes out as it comes, and which peers can take it.
struct SourceFactsTests {
    static let camera = SourceFacts.Video(format: "video/x-h264", profile: "constrained-baseline", width: 640, height: 480)

    static func decide(_ change: (inout SourceFacts.Video) -> Void = { _ in }, configure: (inout GatewayConfiguration) -> Void = { _ in }) -> VideoFeed? {
        var video = camera
        change(&video)
        var configuration = GatewayConfiguration()
        configure(&configuration)
        return SourceFacts(video: video).videoFeed(configuration)
    }

    @Test func h264ThatBrowsersPlayPassesThrough() {
        #expect(Self.decide() == .passthrough(PassthroughVideo(codec: .h264, profile: .constrainedBaseline)))
        #expect(Self.decide { $0.profile = "high" } == .passthrough(PassthroughVideo(codec: .h264, profile: .high)))
        #expect(Self.decide { $0 = SourceFacts.Video(format: "video/x-vp8") } == .passthrough(PassthroughVideo(codec: .vp8, profile: nil)))
    }

    @Test func framesOutOfOrderInABaselineStreamAreJitterNotBFrames() {
        #expect(Self.decide { $0.reordered = true } == .passthrough(PassthroughVideo(codec: .h264, profile: .constrainedBaseline)))
        #expect(Self.decide { $0 = SourceFacts.Video(format: "video/x-vp8", reordered: true) } == .passthrough(PassthroughVideo(codec: .vp8, profile: nil)))
    }

    @Test func whatBrowsersCannotPlayIsTranscodedSayingWhy() {
        var bFrames = Self.camera, interlaced = Self.camera, high10 = Self.camera, h265 = Self.camera
        bFrames.reordered = true
        bFrames.profile = "main"
        interlaced.interlaced = true
        high10.profile = "high-10"
        h265.format = "video/x-h265"
        for (video, said) in [(bFrames, "B-frames"), (interlaced, "interlaced"), (high10, "high-10"), (h265, "video/x-h265")] {
            guard case .transcode(let reason?) = SourceFacts(video: video).videoFeed(GatewayConfiguration()) else {
                Issue.record("\(said) should be transcoded with a reason")
                continue
            }
            #expect(reason.contains(said), "\(reason)")
        }
    }

    @Test func rawVideoIsEncodedWithoutComment() {
        #expect(Self.decide { $0 = SourceFacts.Video(format: "video/x-raw") } == .transcode(reason: nil))
    }

    @Test func transcodeAndPerPeerEncodingTurnPassthroughOff() {
        #expect(Self.decide(configure: { $0.transcode = true }) == .transcode(reason: "--transcode"))
        guard case .transcode(let reason?) = Self.decide(configure: { $0.encode = .perPeer }) else {
            Issue.record("per-peer encoding should transcode")
            return
        }
        #expect(reason.contains("per-peer"))
    }

    @Test func opusPassesAndTheRestIsEncoded() {
        let configuration = GatewayConfiguration()
        #expect(SourceFacts(audio: "audio/x-opus").audioPasses(configuration))
        #expect(!SourceFacts(audio: "audio/x-raw").audioPasses(configuration))
    }

    @Test(arguments: [
        // profile-level-id offered, stream profile, decodes
        ("42e01f", H264Profile.constrainedBaseline, true),
        ("42001f", .constrainedBaseline, true),
        ("42001f", .baseline, true),
        ("42e01f", .main, false),
        ("4d001f", .main, true),
        ("640c1f", .main, true),
        ("640c1f", .high, true),
        ("4d001f", .high, false),
        ("f4001f", .constrainedBaseline, false),
    ])
    func aPeerTakesTheProfilesItsOfferDecodes(_ offered: String, _ stream: H264Profile, _ fits: Bool) {
        let codec = SDPSummary.Codec(payloadType: 102, encodingName: "H264", fmtp: "packetization-mode=1;profile-level-id=\(offered)")
        #expect(PassthroughVideo(codec: .h264, profile: stream).fits(codec) == fits)
    }

    @Test func withoutAProfileLevelIDOnlyConstrainedBaselineFits() {
        let codec = SDPSummary.Codec(payloadType: 102, encodingName: "H264", fmtp: "packetization-mode=1")
        #expect(PassthroughVideo(codec: .h264, profile: .constrainedBaseline).fits(codec))
        #expect(!PassthroughVideo(codec: .h264, profile: .high).fits(codec))
    }
}

/// When a dropped network source is opened again, and when it counts as back or lost.
struct SourceHealthTests {
    let start = ContinuousClock.now

    @Test func theBackoffDoublesFromOneSecondUpToTen() {
        #expect((1...7).map { SourceHealth.delay(beforeAttempt: $0) } == [1, 2, 4, 8, 10, 10, 10].map { .seconds($0) })
    }

    @Test func aSourceThatStopsDeliveringIsLostAfterFiveSeconds() {
        var health = SourceHealth(now: start)
        #expect(health.check(buffers: 10, now: start + .seconds(1)) == nil)
        #expect(health.check(buffers: 10, now: start + .seconds(5)) == nil)
        guard case .lost? = health.check(buffers: 10, now: start + .seconds(6)) else {
            Issue.record("a stalled source should be lost")
            return
        }
    }

    @Test func eachFailedTryWaitsLongerAndMediaSaysItIsBack() {
        var health = SourceHealth(now: start)
        _ = health.check(buffers: 10, now: start)
        #expect(health.lost(now: start + .seconds(1)) == .seconds(1))
        // Lost again while down: already handled.
        #expect(health.lost(now: start + .seconds(1)) == nil)
        health.reopening(now: start + .seconds(2))
        #expect(health.lost(now: start + .seconds(2)) == .seconds(2))
        health.reopening(now: start + .seconds(4))
        #expect(health.phase == .reopened(attempt: 2))
        #expect(health.check(buffers: 11, now: start + .seconds(5)) == .back(after: .seconds(4)))
        #expect(health.phase == .playing)
        // The next drop starts the backoff over.
        #expect(health.lost(now: start + .seconds(9)) == .seconds(1))
    }

    @Test func aSourceThatOpensButSendsNothingIsTriedAgain() {
        var health = SourceHealth(now: start)
        _ = health.lost(now: start)
        health.reopening(now: start + .seconds(1))
        #expect(health.check(buffers: 0, now: start + .seconds(3)) == nil)
        guard case .lost(let reason)? = health.check(buffers: 0, now: start + .seconds(6)) else {
            Issue.record("a reopened source that sends nothing should be lost again")
            return
        }
        #expect(reason.contains("opened but sent nothing"))
        #expect(health.lost(now: start + .seconds(6)) == .seconds(2))
    }
}
