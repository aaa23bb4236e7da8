import GStreamer
@testable import MeshGateway
import Testing

/// Which of a camera's own formats is asked of it to pass its H.264 through, from the caps
/// real cameras list (no camera on this machine: the choice is made from caps alone).
struct CameraStreamTests {
    init() { GStreamer.initialize() }

    static let rates = "framerate=(fraction){ 30/1, 24/1, 20/1, 15/1, 10/1, 15/2, 5/1 }"

    /// What v4l2src lists for a UVC camera that encodes (a Logitech C920's modes).
    static let uvc = """
        video/x-raw, format=(string)YUY2, width=(int)640, height=(int)480, pixel-aspect-ratio=(fraction)1/1, \(rates); \
        image/jpeg, width=(int)1920, height=(int)1080, pixel-aspect-ratio=(fraction)1/1, \(rates); \
        video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)1920, height=(int)1080, pixel-aspect-ratio=(fraction)1/1, \(rates); \
        video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)1280, height=(int)720, pixel-aspect-ratio=(fraction)1/1, \(rates); \
        video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)640, height=(int)480, pixel-aspect-ratio=(fraction)1/1, \(rates)
        """

    static func choose(_ device: String, _ width: Int, _ height: Int, _ fps: Int) -> CameraStream.Choice {
        guard let caps = Caps(device) else {
            Issue.record("caps do not parse: \(device)")
            return .none
        }
        return CameraStream.choose(from: caps, width: width, height: height, fps: fps)
    }

    /// The fixed caps a choice asks of the camera.
    static func asked(_ choice: CameraStream.Choice) -> Caps? {
        guard case .h264(let description) = choice else {
            Issue.record("expected H.264, got \(choice)")
            return nil
        }
        return Caps(description)
    }

    @Test func theCamerasH264AtTheSizeAndRateWantedIsAskedFor() throws {
        let caps = try #require(Self.asked(Self.choose(Self.uvc, 1280, 720, 30)))
        #expect(caps.name == "video/x-h264")
        #expect(caps.int("width") == 1280 && caps.int("height") == 720)
        #expect(caps.string("stream-format") == "byte-stream" && caps.string("alignment") == "au")
        #expect(caps.description.contains("framerate=(fraction)30/1"))
    }

    @Test func aRateTheCameraLacksGivesTheNearestItHas() throws {
        let caps = try #require(Self.asked(Self.choose(Self.uvc, 640, 480, 25)))
        #expect(caps.int("width") == 640)
        #expect(caps.description.contains("framerate=(fraction)24/1"))
    }

    @Test func aSizeWithoutH264NamesTheSizesThatHaveIt() {
        #expect(Self.choose(Self.uvc, 800, 600, 30) == .otherSizes(["1920x1080", "1280x720", "640x480"]))
    }

    @Test func aCameraThatGivesOnlyRawAndMJPEGHasNoH264() {
        let plain = Self.uvc.split(separator: ";").filter { !$0.contains("x-h264") }.joined(separator: ";")
        #expect(Self.choose(plain, 640, 480, 30) == .none)
    }

    /// A driver that lists ranges (the Raspberry Pi's camera): any size on its step, any rate
    /// up to its highest, and the first profile it names.
    @Test func rangesGiveExactlyTheSizeAndRateWanted() throws {
        let pi = "video/x-raw, format=(string)I420, width=(int)[ 32, 3280, 2 ], height=(int)[ 32, 2464, 2 ], framerate=(fraction)[ 1/1, 90/1 ]; "
            + "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, profile=(string){ constrained-baseline, baseline, main, high }, "
            + "width=(int)[ 32, 1920, 2 ], height=(int)[ 32, 1920, 2 ], framerate=(fraction)[ 1/1, 90/1 ]"
        let caps = try #require(Self.asked(Self.choose(pi, 1280, 720, 30)))
        #expect(caps.int("width") == 1280 && caps.int("height") == 720)
        #expect(caps.string("profile") == "constrained-baseline")
        #expect(caps.description.contains("framerate=(fraction)30/1"))
        #expect(Self.choose(pi, 1921, 1080, 30) == .otherSizes([]))
    }

    /// The camera's H.264 enters the graph as a live source of its own and passes through;
    /// the shared encoder decodes it only for peers that take another codec.
    @Test func aPassedCameraIsASourceOfItsOwnInTheGraph() {
        var configuration = GatewayConfiguration()
        configuration.video = .camera(device: "/dev/video2")
        let camera = URISource(camera: "/dev/video2", caps: "video/x-h264, width=(int)1280, height=(int)720")
        let passed = SourceDecision(video: .passthrough(PassthroughVideo(codec: .h264, profile: .constrainedBaseline)), camera: camera)
        let graph = SendGraph(configuration, sources: passed)
        #expect(camera.uri == "v4l2:///dev/video2" && camera.isLive)
        #expect(graph.inputs.map(\.name) == ["camera_video"] && graph.inputs.first?.source == camera)
        #expect(graph.description.contains("queue name=video_in ! h264parse ! tee name=\(SendGraph.passthroughTee)"))
        #expect(!graph.description.contains("v4l2src"))

        // Refused passthrough (B-frames, say): the camera is decoded as it always was.
        let decoded = SendGraph(configuration, sources: SourceDecision(video: .transcode(reason: "B-frames")))
        #expect(decoded.inputs.isEmpty)
        #expect(decoded.description.hasPrefix("v4l2src device=\"/dev/video2\" ! decodebin"))
    }

    @Test func theCamerasElementIsAV4l2srcAskedForTheModeWithOnePad() throws {
        let camera = URISource(camera: "/dev/video2", caps: "video/x-h264, width=(int)1280, height=(int)720")
        let element = try camera.makeElement(name: "camera_video", undecoded: "", latency: 200)
        let bin = try #require(element as? Bin)
        #expect(bin.name == "camera_video")
        #expect(bin.elementNames.contains { $0.hasPrefix("v4l2src") } && bin.elementNames.contains { $0.hasPrefix("capsfilter") })
        let pad = try #require(bin.staticPad("src"))
        #expect(pad.caps?.int("width") == 1280)
    }

    @Test func aCameraThatIsNotThereHasNoFormatsAndTheProbeSaysWhich() async {
        #expect(Device.cameraCaps("/dev/video-meshgate-none") == nil)
        let camera = URISource(camera: "/dev/video-meshgate-none", caps: "video/x-h264, width=(int)640, height=(int)480")
        do {
            _ = try await SourceProbe.run(camera, kinds: [.video], latency: 200, timeout: .seconds(5))
            Issue.record("a camera that is not there was probed")
        } catch {
            #expect(error.description.contains("v4l2:///dev/video-meshgate-none"), "\(error)")
        }
    }
}
