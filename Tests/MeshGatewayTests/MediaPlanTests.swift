@testable import MeshGateway
import Testing

/// Which branches a peer connection gets, from our configuration and the peer's offer.
struct MediaPlanTests {
    static func configuration(_ codec: VideoCodec = .vp8, encode: EncodeMode = .once) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.videoCodec = codec
        configuration.encode = encode
        return configuration
    }

    @Test func anOfferSendsEachKindWeHaveAndReceivesTheOthers() {
        let plan = MediaPlan.offer(Self.configuration(), sending: [.audio])
        #expect(plan.steps.count == 2)
        guard case .receiveOnly(let video) = plan.steps.first, case .send(let audio) = plan.steps.last else {
            Issue.record("expected video received, audio sent: \(plan.steps)")
            return
        }
        #expect(video.contains("encoding-name=VP8") && video.contains("encoding-name=H264"))
        #expect(audio.kind == .audio && audio.encoder == nil && audio.caps.contains("payload=111"))
    }

    @Test func anAnswerTakesTheOffersPayloadTypesInItsLineOrder() {
        let offer = SDPSummary(SDPTests.browserOffer)
        let plan = MediaPlan.answer(to: offer, Self.configuration(), sending: [.video, .audio])
        let sent = plan.steps.compactMap { if case .send(let sender) = $0 { sender } else { nil } }
        #expect(sent.map(\.kind) == offer.lines.compactMap { MediaKind(rawValue: $0.kind) })
        for sender in sent {
            let name = sender.kind == .video ? "VP8" : "OPUS"
            let pt = offer.codec(name, kind: sender.kind)?.payloadType
            #expect(sender.caps.contains("payload=\(pt ?? -1),"))
        }
        #expect(plan.unsent.isEmpty)
    }

    @Test func aPeerWithoutOurVideoCodecIsSentNoVideoAndSaidSo() {
        let vp8Only = SDPTests.browserOffer.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("H264") }.joined(separator: "\r\n")
        let offer = SDPSummary(vp8Only)
        let plan = MediaPlan.answer(to: offer, Self.configuration(.h264), sending: [.video, .audio])
        #expect(plan.unsent == [.init(kind: .video, codec: "H264")])
        #expect(plan.steps.contains { if case .receiveOnly(let caps) = $0 { caps.contains("VP8") } else { false } })
    }

    @Test func perPeerEncodingPutsAnEncoderInEachBranch() {
        let plan = MediaPlan.offer(Self.configuration(encode: .perPeer), sending: [.video, .audio])
        let encoders = plan.steps.compactMap { if case .send(let sender) = $0 { sender.encoder } else { nil } }
        #expect(encoders.count == 2)
        #expect(encoders.first?.hasPrefix("vp8enc name=video_encoder") == true)
    }
}

/// Which peers get the source's own video.
struct PassthroughPlanTests {
    static let camera = PassthroughVideo(codec: .h264, profile: .constrainedBaseline)

    @Test func anOfferSendsTheSourcesCodecAsItComes() {
        let plan = MediaPlan.offer(MediaPlanTests.configuration(), sending: [.video, .audio], passthrough: Self.camera)
        guard case .send(let video) = plan.steps.first else {
            Issue.record("expected video sent: \(plan.steps)")
            return
        }
        #expect(video.passthrough && video.encoder == nil && video.payloader.hasPrefix("rtph264pay"))
        // The profile is the stream's own, which the payloader reads from its SPS.
        #expect(video.caps.contains("encoding-name=H264") && !video.caps.contains("profile-level-id"))
    }

    @Test func aPeerThatTakesTheSourcesProfileGetsItAsItComes() {
        let plan = MediaPlan.answer(to: SDPSummary(SDPTests.browserOffer), MediaPlanTests.configuration(), sending: [.video, .audio],
                                    passthrough: Self.camera)
        let video = plan.steps.compactMap { if case .send(let sender) = $0, sender.kind == .video { sender } else { nil } }.first
        #expect(video?.passthrough == true)
        #expect(plan.transcodedBecause == nil)
    }

    @Test func aPeerWithoutTheSourcesCodecGetsTheSharedEncoderAndTheLogSaysWhy() {
        let vp8Only = SDPTests.browserOffer.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("H264") }.joined(separator: "\r\n")
        let plan = MediaPlan.answer(to: SDPSummary(vp8Only), MediaPlanTests.configuration(), sending: [.video, .audio], passthrough: Self.camera)
        let video = plan.steps.compactMap { if case .send(let sender) = $0, sender.kind == .video { sender } else { nil } }.first
        #expect(video?.passthrough == false && video?.payloader.hasPrefix("rtpvp8pay") == true)
        #expect(plan.transcodedBecause == "it does not take H264")
    }
}

/// Which of our video codecs each peer gets.
struct CodecListPlanTests {
    static func configuration(_ codecs: [VideoCodec]) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.videoCodecs = codecs
        return configuration
    }

    static func videoCodec(answering sdp: String, _ codecs: [VideoCodec]) -> VideoCodec? {
        MediaPlan.answer(to: SDPSummary(sdp), configuration(codecs), sending: [.video, .audio]).videoCodec
    }

    static let vp8Only = SDPTests.browserOffer.split(separator: "\r\n", omittingEmptySubsequences: false)
        .filter { !$0.contains("H264") }.joined(separator: "\r\n")

    @Test func anAnswerTakesTheFirstOfOurCodecsTheOfferHas() {
        #expect(Self.videoCodec(answering: SDPTests.browserOffer, [.h264, .vp8]) == .h264)
        #expect(Self.videoCodec(answering: SDPTests.browserOffer, [.vp8, .h264]) == .vp8)
        #expect(Self.videoCodec(answering: Self.vp8Only, [.h264, .vp8]) == .vp8)
        #expect(Self.videoCodec(answering: Self.vp8Only, [.h264]) == nil)
    }

    @Test func anOfferSendsOurFirstCodecThatThePeerHasNotRefused() {
        let configuration = Self.configuration([.h264, .vp8])
        #expect(MediaPlan.offer(configuration, sending: [.video]).videoCodec == .h264)
        #expect(MediaPlan.offer(configuration, sending: [.video], refused: [.h264]).videoCodec == .vp8)
        // Refused both: it receives video only, and our offer says what we take.
        let none = MediaPlan.offer(configuration, sending: [.video], refused: [.h264, .vp8])
        #expect(none.videoCodec == nil && !none.sends)
    }

    @Test func theSourcesCodecComesFirstWhateverTheListsOrder() {
        let camera = PassthroughVideo(codec: .h264, profile: .constrainedBaseline)
        let configuration = Self.configuration([.vp8, .h264])
        let offered = MediaPlan.offer(configuration, sending: [.video], passthrough: camera)
        #expect(offered.videoCodec == .h264)
        #expect(MediaPlan.offer(configuration, sending: [.video], passthrough: camera, refused: [.h264]).videoCodec == .vp8)
        let answered = MediaPlan.answer(to: SDPSummary(SDPTests.browserOffer), configuration, sending: [.video], passthrough: camera)
        #expect(answered.videoCodec == .h264)
    }

    @Test func anAnswerThatRefusesOurVideoLineSaysSo() {
        let answer = "v=0\r\nm=video 0 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n"
        #expect(!SDPSummary(answer).takesVideo(encodingName: "H264"))
        let taken = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"
        #expect(SDPSummary(taken).takesVideo(encodingName: "VP8") && !SDPSummary(taken).takesVideo(encodingName: "H264"))
    }
}
