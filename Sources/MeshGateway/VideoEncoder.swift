import GStreamer

/// `--encoder`: which kind of video encoder to run.
public enum EncoderChoice: String, Sendable, CaseIterable {
    /// The first hardware H.264 encoder that is installed and starts; else software.
    case auto
    case software
    case v4l2, va, vaapi, nvenc

    /// The hardware encoder this choice names; nil for `auto` and `software`.
    var hardware: VideoEncoder? {
        switch self {
        case .auto, .software: nil
        case .v4l2: .v4l2
        case .va: .va
        case .vaapi: .vaapi
        case .nvenc: .nvenc
        }
    }
}

/// A video encoder MeshGate runs, each with settings every browser decodes in real time:
/// constrained baseline (H.264) at the level the size and rate need, no B-frames, constant
/// bitrate, a keyframe on request and at least every five seconds. The payloader repeats
/// SPS/PPS before every keyframe (`config-interval=-1`), whichever encoder made them.
enum VideoEncoder: String, Sendable, CaseIterable {
    case vp8 = "vp8enc"
    case x264 = "x264enc"
    /// Video4Linux's stateful encoders: a Raspberry Pi's, many ARM boards'.
    case v4l2 = "v4l2h264enc"
    /// VA-API through GStreamer's `va` plugin (Intel, AMD).
    case va = "vah264enc"
    /// VA-API through the older `vaapi` plugin.
    case vaapi = "vaapih264enc"
    /// NVIDIA's NVENC.
    case nvenc = "nvh264enc"

    /// The hardware H.264 encoders `auto` tries, in this order.
    static let hardware: [VideoEncoder] = [.v4l2, .va, .vaapi, .nvenc]

    var factory: String { rawValue }

    /// The Debian package that has this encoder's element.
    var package: String {
        switch self {
        case .vp8: "gstreamer1.0-plugins-good"
        case .x264: "gstreamer1.0-plugins-ugly"
        case .v4l2: "gstreamer1.0-plugins-good"
        case .va: "gstreamer1.0-plugins-bad"
        case .vaapi: "gstreamer1.0-vaapi"
        case .nvenc: "gstreamer1.0-plugins-bad"
        }
    }

    /// The encoder as a gst-launch description, named `name`; `bitrate` in kbit/s.
    func description(name: String, bitrate: Int, width: Int, height: Int, fps: Int) -> String {
        let keyframes = fps * 5
        // What browsers take; the level is the lowest that holds the size at the rate.
        let level = VideoCodec.h264Level(width: width, height: height, fps: fps)
        let baseline = "video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au"
        switch self {
        case .vp8:
            return "vp8enc name=\(name) deadline=1 cpu-used=8 lag-in-frames=0 error-resilient=partitions "
                + "end-usage=cbr target-bitrate=\(bitrate * 1000) keyframe-max-dist=\(keyframes)"
        case .x264:
            // x264 picks the level from the size and rate itself, the same way.
            return "x264enc name=\(name) tune=zerolatency speed-preset=ultrafast threads=2 bitrate=\(bitrate) key-int-max=\(keyframes) "
                + "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream"
        case .v4l2:
            // Controls by V4L2's names: constrained baseline is profile 1, CBR is mode 1.
            let controls = "controls,video_bitrate=\(bitrate * 1000),video_bitrate_mode=1,h264_i_frame_period=\(keyframes),"
                + "h264_profile=1,h264_level=\(level.v4l2),repeat_sequence_header=1"
            return "v4l2h264enc name=\(name) extra-controls=\"\(controls)\" ! \(baseline),level=(string)\(level.name)"
        case .va:
            return "vah264enc name=\(name) rate-control=cbr bitrate=\(bitrate) key-int-max=\(keyframes) b-frames=0 "
                + "! \(baseline),level=(string)\(level.name)"
        case .vaapi:
            return "vaapih264enc name=\(name) rate-control=cbr bitrate=\(bitrate) keyframe-period=\(keyframes) max-bframes=0 "
                + "! \(baseline),level=(string)\(level.name)"
        case .nvenc:
            return "nvh264enc name=\(name) rc-mode=cbr bitrate=\(bitrate) gop-size=\(keyframes) bframes=0 zerolatency=true "
                + "! \(baseline),level=(string)\(level.name)"
        }
    }

    /// Changes a running encoder's target, in kbit/s (`--encode per-peer`). A V4L2 encoder's
    /// controls are set when it starts: it keeps its first bitrate.
    func setBitrate(_ kbps: Int, on encoder: Element) {
        switch self {
        case .vp8: encoder.set("target-bitrate", kbps * 1000)
        case .x264, .va, .vaapi, .nvenc: encoder.set("bitrate", kbps)
        case .v4l2: break
        }
    }
}

extension VideoCodec {
    /// An H.264 level: its caps name and V4L2's control value.
    struct H264Level: Equatable {
        let name: String
        let v4l2: Int
    }

    /// The lowest of 3.1, 4 and 5.1 that holds `width`x`height` at `fps`: what the offer
    /// announces (``h264ProfileLevelID``), so that a receiver takes the stream.
    static func h264Level(width: Int, height: Int, fps: Int) -> H264Level {
        switch h264ProfileLevelID(width: width, height: height, fps: fps).suffix(2) {
        case "1f": H264Level(name: "3.1", v4l2: 9)
        case "28": H264Level(name: "4", v4l2: 11)
        default: H264Level(name: "5.1", v4l2: 15)
        }
    }
}
