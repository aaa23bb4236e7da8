import GStreamer

/// Which video encoder runs, from `--encoder` and `--video-codec`: a pure choice over what
/// is installed and what starts, so that every path is tested without the hardware.
enum EncoderSelection {
    /// The encoder chosen, why, and what was given up on the way.
    struct Outcome: Equatable {
        let encoder: VideoEncoder
        let reason: String
        /// Hardware encoders that are installed but did not start (`auto` falls back past them).
        var warnings: [String] = []
    }

    /// `installed` says whether an element factory exists; `starts` whether an encoder
    /// opens its device and takes our video (see ``EncoderProbe``).
    static func choose(_ choice: EncoderChoice, codec: VideoCodec,
                       installed: (String) -> Bool, starts: (VideoEncoder) -> Bool) -> Result<Outcome, GatewayError> {
        guard codec == .h264 else {
            if let hardware = choice.hardware {
                return .failure(GatewayError("--encoder \(choice.rawValue) (\(hardware.factory)) encodes H.264 only: add h264 to --video-codec"))
            }
            return .success(Outcome(encoder: .vp8, reason: "VP8 is encoded in software"))
        }
        switch choice {
        case .software:
            return .success(Outcome(encoder: .x264, reason: "--encoder software"))
        case .auto:
            var warnings: [String] = []
            var missing: [String] = []
            for encoder in VideoEncoder.hardware {
                guard installed(encoder.factory) else {
                    missing.append(encoder.factory)
                    continue
                }
                if starts(encoder) {
                    return .success(Outcome(encoder: encoder, reason: "the first hardware H.264 encoder that starts", warnings: warnings))
                }
                warnings.append("\(encoder.factory) is installed but did not start; trying the next")
            }
            let reason = missing.count == VideoEncoder.hardware.count
                ? "no hardware H.264 encoder is installed (\(missing.joined(separator: ", ")))"
                : "no hardware H.264 encoder started"
            return .success(Outcome(encoder: .x264, reason: reason, warnings: warnings))
        case .v4l2, .va, .vaapi, .nvenc:
            guard let encoder = choice.hardware else { return .failure(GatewayError("--encoder \(choice.rawValue) names no encoder")) }
            guard installed(encoder.factory) else {
                return .failure(GatewayError("--encoder \(choice.rawValue): GStreamer element '\(encoder.factory)' is missing: "
                    + "install \(encoder.package) and the device's driver, or use --encoder auto"))
            }
            guard starts(encoder) else {
                return .failure(GatewayError("--encoder \(choice.rawValue): \(encoder.factory) did not start (no device, or it refuses "
                    + "constrained-baseline H.264 at this size): use --encoder auto or software"))
            }
            return .success(Outcome(encoder: encoder, reason: "--encoder \(choice.rawValue)"))
        }
    }
}

/// Whether an encoder starts here: a second of test video through it, prerolled. A hardware
/// encoder opens its device and negotiates its caps in that step.
enum EncoderProbe {
    static func starts(_ encoder: VideoEncoder, width: Int, height: Int, fps: Int, bitrate: Int) -> Bool {
        let description = "videotestsrc num-buffers=\(fps) ! video/x-raw,format=I420,width=\(width),height=\(height),framerate=\(fps)/1 "
            + "! \(encoder.description(name: "probe", bitrate: bitrate, width: width, height: height, fps: fps)) ! fakesink"
        guard let pipeline = try? Pipeline.parse(description) else { return false }
        defer { pipeline.setState(.null) }
        return pipeline.setState(.paused) && pipeline.waitForState(timeout: .seconds(5))
    }
}
