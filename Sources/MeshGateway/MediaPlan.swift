/// What one peer connection sends and receives, chosen from our configuration and, when
/// answering, from the peer's offer: its branches in m-line order. Pure, so the codec
/// choice is tested without GStreamer (`MediaPlanTests`).
struct MediaPlan: Equatable {
    /// A branch from one of the shared tees to the peer: queue, `encoder` (only with
    /// `--encode per-peer`), payloader, into a webrtcbin pad of `caps`.
    struct Sender: Equatable {
        let kind: MediaKind
        /// Video only: the codec sent.
        var codec: VideoCodec? = nil
        let encoder: String?
        let payloader: String
        let caps: String
        /// Fed from the source's own video as it comes, not from a shared encoder.
        var passthrough = false
    }

    enum Step: Equatable {
        case send(Sender)
        /// A transceiver that only receives, for these codecs (one or more caps structures).
        case receiveOnly(caps: String)
    }

    /// A kind the peer would take from us, but in none of our codecs: it is sent none.
    struct Unsent: Equatable {
        let kind: MediaKind
        let codec: String
    }

    private(set) var steps: [Step] = []
    private(set) var unsent: [Unsent] = []
    /// Why the peer gets a shared encoder's video although the source's own passes
    /// through to others: it does not take that codec or profile.
    private(set) var transcodedBecause: String?

    var sends: Bool { steps.contains { if case .send = $0 { true } else { false } } }

    /// The video codec sent, if any.
    var videoCodec: VideoCodec? {
        steps.lazy.compactMap { if case .send(let sender) = $0, sender.kind == .video { sender.codec } else { nil } }.first
    }

    /// Our offer: each kind we send, in one codec; each kind we do not, received in any codec
    /// we take. Video that passes through is offered as it comes (the cheapest, and it loses
    /// nothing), else our first codec; `refused` are codecs this peer turned down before.
    static func offer(_ configuration: GatewayConfiguration, sending kinds: Set<MediaKind>, passthrough: PassthroughVideo? = nil,
                      refused: Set<VideoCodec> = []) -> MediaPlan {
        var plan = MediaPlan()
        if kinds.contains(.video), let passthrough, !refused.contains(passthrough.codec) {
            plan.steps.append(.send(passedThrough(passthrough, pt: passthrough.codec.offeredPayloadType)))
        } else if kinds.contains(.video), let codec = configuration.videoCodecs.first(where: { !refused.contains($0) }) {
            let pt = codec.offeredPayloadType
            let profile = VideoCodec.h264ProfileLevelID(width: configuration.width, height: configuration.height, fps: configuration.fps)
            plan.steps.append(.send(Sender(kind: .video, codec: codec, encoder: encoder(.video, codec, configuration),
                                           payloader: codec.payloader(pt: pt), caps: codec.rtpCaps(pt: pt, profileLevelID: profile))))
        } else {
            plan.steps.append(.receiveOnly(caps: VideoCodec.receivedCaps))
        }
        if kinds.contains(.audio) {
            plan.steps.append(.send(Sender(kind: .audio, encoder: encoder(.audio, nil, configuration), payloader: Opus.payloader(pt: Opus.offeredPayloadType),
                                           caps: Opus.rtpCaps(pt: Opus.offeredPayloadType))))
        } else {
            plan.steps.append(.receiveOnly(caps: Opus.rtpCaps(pt: Opus.offeredPayloadType)))
        }
        return plan
    }

    /// Our answer to `offer`, line by line: we send a kind on a line that takes it, video as
    /// it comes when the line takes that, else in the first of our codecs the line takes,
    /// with the offer's payload type (and H.264 profile); every other line receives what we
    /// can record, if anything.
    static func answer(to offer: SDPSummary, _ configuration: GatewayConfiguration, sending kinds: Set<MediaKind>,
                       passthrough: PassthroughVideo? = nil) -> MediaPlan {
        var plan = MediaPlan()
        for (index, line) in offer.lines.enumerated() {
            guard let kind = MediaKind(rawValue: line.kind) else { continue }
            let sends = kinds.contains(kind) && line.receives
            if sends, kind == .video, let passthrough {
                let offered = line.codecs.filter { $0.encodingName == passthrough.codec.encodingName && $0.parameter("packetization-mode") != "0" }
                if let taken = offered.first(where: passthrough.fits) {
                    plan.steps.append(.send(passedThrough(passthrough, pt: taken.payloadType)))
                    continue
                }
                let profile = passthrough.profile.map { " \($0.rawValue)" } ?? ""
                plan.transcodedBecause = offered.isEmpty
                    ? "it does not take \(passthrough.codec.encodingName)"
                    : "it does not take \(passthrough.codec.encodingName)\(profile)"
            }
            if sends, kind == .video, let (codec, offered) = configuration.videoCodecs.lazy
                .compactMap({ codec in offer.codec(codec.encodingName, onLine: index).map { (codec, $0) } }).first {
                let pt = offered.payloadType
                plan.steps.append(.send(Sender(kind: .video, codec: codec, encoder: encoder(.video, codec, configuration), payloader: codec.payloader(pt: pt),
                                               caps: codec.rtpCaps(pt: pt, profileLevelID: offered.parameter("profile-level-id") ?? "42e01f"))))
                continue
            }
            if sends, kind == .audio, let offered = offer.codec(Opus.encodingName, onLine: index) {
                let pt = offered.payloadType
                plan.steps.append(.send(Sender(kind: .audio, encoder: encoder(.audio, nil, configuration), payloader: Opus.payloader(pt: pt),
                                               caps: Opus.rtpCaps(pt: pt))))
                continue
            }
            if sends {
                let ours = kind == .video ? configuration.videoCodecs.map(\.encodingName).joined(separator: ", ") : Opus.encodingName
                plan.unsent.append(Unsent(kind: kind, codec: ours))
            }
            if let caps = receivableCaps(of: line) { plan.steps.append(.receiveOnly(caps: caps)) }
        }
        return plan
    }

    private static func passedThrough(_ passthrough: PassthroughVideo, pt: Int) -> Sender {
        // The profile is the stream's own: the payloader reads it from the SPS.
        Sender(kind: .video, codec: passthrough.codec, encoder: nil, payloader: passthrough.codec.payloader(pt: pt),
               caps: passthrough.codec.rtpCaps(pt: pt, profileLevelID: nil), passthrough: true)
    }

    /// The encoder of a peer's own sending branch with `--encode per-peer`; nil when a
    /// shared encoder before the tee does it.
    private static func encoder(_ kind: MediaKind, _ codec: VideoCodec?, _ configuration: GatewayConfiguration) -> String? {
        guard configuration.encode == .perPeer else { return nil }
        guard kind == .video else { return Opus.encoder(name: SendGraph.audioEncoder) }
        return configuration.videoEncoderDescription(codec ?? configuration.videoCodec, name: SendGraph.videoEncoder)
    }

    /// The codecs of an offered m-line that MeshGate can record, with the offer's payload types.
    private static func receivableCaps(of line: SDPSummary.MediaLine) -> String? {
        let structures = line.codecs.filter { ReceivedCodec.names.contains($0.encodingName) }.map { codec in
            let rate = line.kind == "audio" ? 48000 : 90000
            return "application/x-rtp,media=\(line.kind),encoding-name=\(codec.encodingName),payload=\(codec.payloadType),clock-rate=\(rate)"
        }
        return structures.isEmpty ? nil : structures.joined(separator: ";")
    }
}
