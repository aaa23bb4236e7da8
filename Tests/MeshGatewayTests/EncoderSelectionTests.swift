@testable import MeshGateway
import GStreamer
import Testing

/// Which encoder runs for each `--encoder` and `--video-codec`, over every mix of installed,
/// starting and failing hardware: the paths this machine (software only) cannot take for real.
struct EncoderSelectionTests {
    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let choice: EncoderChoice
        var codec: VideoCodec = .h264
        /// Factories installed, and those of them that start.
        var installed: Set<String> = []
        var starting: Set<String> = []
        /// The encoder chosen, or a piece of the error.
        let expected: Expected
        var warnings = 0
        var testDescription: String { name }
    }

    enum Expected: Sendable {
        case success(VideoEncoder)
        case failure(String)
    }

    static let rows: [Row] = [
        Row(name: "auto without hardware is software, and says why", choice: .auto, expected: .success(.x264)),
        Row(name: "auto takes the first hardware encoder that starts", choice: .auto,
            installed: ["vah264enc", "nvh264enc"], starting: ["vah264enc", "nvh264enc"], expected: .success(.va)),
        Row(name: "auto passes an installed encoder that does not start, with a warning", choice: .auto,
            installed: ["v4l2h264enc", "nvh264enc"], starting: ["nvh264enc"], expected: .success(.nvenc), warnings: 1),
        Row(name: "auto falls back to software when none starts", choice: .auto,
            installed: ["v4l2h264enc", "vaapih264enc"], expected: .success(.x264), warnings: 2),
        Row(name: "software is software, hardware or not", choice: .software,
            installed: ["vah264enc"], starting: ["vah264enc"], expected: .success(.x264)),
        Row(name: "a named encoder that starts is used", choice: .v4l2,
            installed: ["v4l2h264enc"], starting: ["v4l2h264enc"], expected: .success(.v4l2)),
        Row(name: "a named encoder that is missing is an error naming its element", choice: .va,
            expected: .failure("GStreamer element 'vah264enc' is missing")),
        Row(name: "a named encoder that does not start is an error, not software", choice: .nvenc,
            installed: ["nvh264enc"], expected: .failure("nvh264enc did not start")),
        Row(name: "VP8 is software whatever is installed", choice: .auto, codec: .vp8,
            installed: ["vah264enc"], starting: ["vah264enc"], expected: .success(.vp8)),
        Row(name: "a hardware H.264 encoder for VP8 is an error", choice: .vaapi, codec: .vp8,
            expected: .failure("encodes H.264 only")),
    ]

    @Test(arguments: rows)
    func choice(_ row: Row) {
        var tried: [VideoEncoder] = []
        let outcome = EncoderSelection.choose(row.choice, codec: row.codec, installed: { row.installed.contains($0) }) { encoder in
            tried.append(encoder)
            return row.starting.contains(encoder.factory)
        }
        switch (outcome, row.expected) {
        case (.success(let chosen), .success(let encoder)):
            #expect(chosen.encoder == encoder)
            #expect(chosen.warnings.count == row.warnings)
            #expect(!chosen.reason.isEmpty)
        case (.failure(let error), .failure(let text)):
            #expect(error.description.contains(text), "\(error)")
        default:
            Issue.record("got \(outcome), expected \(row.expected)")
        }
        // Only installed encoders are ever started.
        #expect(tried.allSatisfy { row.installed.contains($0.factory) })
    }

    @Test func everyH264EncoderIsConstrainedBaselineWithoutBFrames() {
        for encoder in VideoEncoder.allCases where encoder != .vp8 {
            let description = encoder.description(name: "e", bitrate: 1000, width: 1280, height: 720, fps: 30)
            #expect(description.contains("profile=constrained-baseline"), "\(encoder)")
            #expect(description.hasPrefix(encoder.factory + " name=e"), "\(description)")
        }
        #expect(VideoEncoder.va.description(name: "e", bitrate: 1000, width: 1280, height: 720, fps: 30).contains("b-frames=0"))
        #expect(VideoEncoder.v4l2.description(name: "e", bitrate: 1000, width: 1920, height: 1080, fps: 30).contains("level=(string)4"))
    }

    @Test func theSoftwareEncodersStartHere() {
        GStreamer.initialize()
        #expect(EncoderProbe.starts(.x264, width: 320, height: 240, fps: 15, bitrate: 300))
        #expect(EncoderProbe.starts(.vp8, width: 320, height: 240, fps: 15, bitrate: 300))
    }
}
