import GStreamer

extension VideoCodec {
    var encodingName: String {
        switch self {
        case .vp8: "VP8"
        case .h264: "H264"
        }
    }

    func payloader(pt: Int) -> String {
        switch self {
        case .vp8: "rtpvp8pay pt=\(pt) mtu=1200 picture-id-mode=15-bit"
        case .h264: "rtph264pay pt=\(pt) mtu=1200 config-interval=-1 aggregate-mode=zero-latency"
        }
    }

    /// The payload type this codec has in offers MeshGate makes.
    var offeredPayloadType: Int {
        switch self {
        case .vp8: 96
        case .h264: 102
        }
    }

    /// `profileLevelID` (H.264 only): an offer's, when answering it; ours otherwise; nil
    /// when the stream passes through, and the payloader takes it from the stream's SPS.
    func rtpCaps(pt: Int, profileLevelID: String? = "42e01f") -> String {
        switch self {
        case .vp8: "application/x-rtp,media=video,encoding-name=VP8,payload=\(pt),clock-rate=90000"
        case .h264:
            "application/x-rtp,media=video,encoding-name=H264,payload=\(pt),clock-rate=90000,packetization-mode=(string)1"
                + (profileLevelID.map { ",profile-level-id=(string)\($0)" } ?? "")
        }
    }

    /// What a transceiver that only receives video offers: VP8, and H.264 in each profile
    /// browsers send (MeshGate decodes them all), each with a payload type of its own.
    static let receivedCaps = ([VideoCodec.vp8.rtpCaps(pt: VideoCodec.vp8.offeredPayloadType)]
        + H264Profile.received.enumerated().map { VideoCodec.h264.rtpCaps(pt: VideoCodec.h264.offeredPayloadType + $0.offset, profileLevelID: $0.element) })
        .joined(separator: ";")

    /// Constrained baseline at the lowest level that holds `width`x`height` at `fps`
    /// (3.1, 4.0 or 5.1): x264 picks its level the same way, and a receiver may refuse
    /// a stream above the level the SDP announced.
    static func h264ProfileLevelID(width: Int, height: Int, fps: Int) -> String {
        let macroblocks = ((width + 15) / 16) * ((height + 15) / 16)
        let level = switch (macroblocks, macroblocks * fps) {
        case (...3600, ...108_000): "1f"
        case (...8192, ...245_760): "28"
        default: "33"
        }
        return "42e0" + level
    }
}

enum Opus {
    static let offeredPayloadType = 111
    static let encodingName = "OPUS"
    static func encoder(name: String) -> String { "opusenc name=\(name) bitrate=48000 frame-size=20" }
    static func payloader(pt: Int) -> String { "rtpopuspay pt=\(pt) mtu=1200" }
    static func rtpCaps(pt: Int) -> String {
        "application/x-rtp,media=audio,encoding-name=OPUS,payload=\(pt),clock-rate=48000,encoding-params=(string)2"
    }
}

/// How received RTP of one encoding is unpacked for the recorder and the counters.
struct ReceivedCodec {
    let kind: MediaKind
    /// Depayloader, plus a parser where the recorder needs one.
    let depayloader: String
    /// Its decoder, named: a decodebin would start asynchronously, which a bin added to a
    /// playing pipeline should not.
    let decoder: String

    init?(encodingName: String) {
        switch encodingName.uppercased() {
        // Asking for a keyframe on loss (a PLI to the sender) and dropping what cannot decode
        // until it comes keeps recordings playable from their first frame.
        case "VP8": (kind, depayloader, decoder) = (.video, "rtpvp8depay request-keyframe=true wait-for-keyframe=true", "vp8dec")
        case "VP9": (kind, depayloader, decoder) = (.video, "rtpvp9depay request-keyframe=true wait-for-keyframe=true", "vp9dec")
        case "H264": (kind, depayloader, decoder) = (.video, "rtph264depay request-keyframe=true wait-for-keyframe=true ! h264parse", "avdec_h264")
        case "OPUS": (kind, depayloader, decoder) = (.audio, "rtpopusdepay", "opusdec")
        default: return nil
        }
    }

    /// The encodings MeshGate can receive, for a transceiver's codec preferences.
    static let names: Set<String> = ["VP8", "VP9", "H264", "OPUS"]
}
