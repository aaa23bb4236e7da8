/// What ``SourceProbe`` found in a file or network source before the pipeline was built,
/// and what follows from it: whether its video can be sent as it comes (passthrough) and
/// whether its audio needs encoding. Pure, so the rules are tested without a camera.
struct SourceFacts: Equatable, Sendable {
    struct Video: Equatable, Sendable {
        /// The caps name of what the source gives: `video/x-h264`, `video/x-vp8`, `video/x-raw`…
        var format: String
        /// H.264 only: the profile its SPS names (`constrained-baseline`, `main`, `high`…).
        var profile: String? = nil
        var interlaced = false
        /// Frames came out of presentation order: B-frames.
        var reordered = false
        var width: Int? = nil
        var height: Int? = nil
    }

    var video: Video?
    /// The caps name of the audio: `audio/x-opus`, `audio/x-raw` (decoded from anything else)…
    var audio: String?

    /// How the video is sent: as it comes, or decoded and encoded, with why.
    func videoFeed(_ configuration: GatewayConfiguration) -> VideoFeed? {
        guard let video else { return nil }
        let codec: VideoCodec
        switch video.format {
        case "video/x-h264": codec = .h264
        case "video/x-vp8": codec = .vp8
        case "video/x-raw": return .transcode(reason: nil)
        default: return .transcode(reason: "the source's \(video.format) is not a codec browsers take")
        }
        if configuration.transcode { return .transcode(reason: "--transcode") }
        if configuration.encode == .perPeer { return .transcode(reason: "--encode per-peer encodes for each peer") }
        var profile: H264Profile?
        if codec == .h264 {
            guard let named = video.profile.flatMap(H264Profile.init(rawValue:)) else {
                return .transcode(reason: "H.264 profile \(video.profile ?? "unknown") is not one browsers decode")
            }
            profile = named
        }
        // Only main and high have B-frames: times out of order in a baseline stream (or VP8)
        // are the network's jitter, not reordering.
        if video.reordered, profile == .main || profile == .high {
            return .transcode(reason: "the stream has B-frames: browsers would play it late and stutter")
        }
        if video.interlaced { return .transcode(reason: "the stream is interlaced: browsers cannot show it") }
        return .passthrough(PassthroughVideo(codec: codec, profile: profile))
    }

    /// Whether the audio goes out as it comes: Opus is what peers take.
    func audioPasses(_ configuration: GatewayConfiguration) -> Bool {
        audio == "audio/x-opus" && configuration.encode == .once && !configuration.transcode
    }

    /// The formats a source is asked to stop decoding at, given what is sent as it comes.
    static func undecoded(video: VideoCodec?, audio: Bool) -> String {
        var formats = ["video/x-raw(ANY)", "audio/x-raw(ANY)"]
        if let video { formats.append(video == .h264 ? "video/x-h264" : "video/x-vp8") }
        if audio { formats.append("audio/x-opus") }
        return formats.joined(separator: ";")
    }

    /// Encoded video a source that feeds only audio leaves as it is.
    static let otherVideo = "video/x-vp8;video/x-vp9;video/x-h265;image/jpeg"
}

/// What the probe decided for the file, network and camera sources: how their video and
/// audio go out.
struct SourceDecision: Equatable, Sendable {
    var video: VideoFeed?
    /// A camera's own H.264, opened as a source of its own when it passes through.
    var camera: URISource?
    var audioPasses = false
}

/// How the source's video reaches peers.
enum VideoFeed: Equatable, Sendable {
    /// As it comes, parsed, for peers that take its codec (and profile).
    case passthrough(PassthroughVideo)
    /// Decoded and encoded by the shared encoder; the reason when passthrough was refused.
    case transcode(reason: String?)
}

/// A source's video that goes out as it comes.
struct PassthroughVideo: Equatable, Sendable {
    let codec: VideoCodec
    /// H.264 only.
    let profile: H264Profile?

    /// Whether a peer that offered `codec` can decode this stream.
    func fits(_ offered: SDPSummary.Codec) -> Bool {
        guard let profile else { return true }
        // Without a profile-level-id the peer takes the default; MeshGate's own receivers
        // name each profile they decode.
        guard let id = offered.parameter("profile-level-id") else { return profile == .constrainedBaseline }
        return H264Profile(profileLevelID: id)?.decodes(profile) == true
    }
}

/// The H.264 profiles browsers decode, by GStreamer's names for them.
enum H264Profile: String, Sendable, CaseIterable {
    case constrainedBaseline = "constrained-baseline"
    case baseline
    case main
    case high

    /// From an SDP profile-level-id (RFC 6184): profile_idc, then the constraint flags.
    init?(profileLevelID: String) {
        guard profileLevelID.count == 6, let value = Int(profileLevelID, radix: 16) else { return nil }
        let (idc, flags) = (value >> 16, (value >> 8) & 0xff)
        switch idc {
        case 0x42: self = flags & 0x40 != 0 ? .constrainedBaseline : .baseline
        case 0x4d: self = flags & 0x80 != 0 ? .constrainedBaseline : .main
        case 0x58 where flags & 0xc0 == 0xc0: self = .constrainedBaseline
        case 0x64: self = .high
        default: return nil
        }
    }

    /// Whether a decoder of this profile decodes a stream of `stream`'s.
    func decodes(_ stream: H264Profile) -> Bool {
        switch stream {
        case .constrainedBaseline: true
        case .baseline: self == .baseline
        case .main: self == .main || self == .high
        case .high: self == .high
        }
    }

    /// The profile-level-ids MeshGate offers when it receives H.264 (it decodes them all).
    static let received = ["42e01f", "4d001f", "640c1f"]
}
