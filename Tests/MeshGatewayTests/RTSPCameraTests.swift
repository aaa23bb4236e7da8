import Foundation
import GStreamer
import MeshTestSupport
import Testing

/// The test camera itself, read as a gateway will read it: RTSP over TCP, H.264 at its
/// size, and A-law audio.
@Suite(.serialized)
struct RTSPCameraTests {
    @Test(arguments: [false, true])
    func theCameraServesH264AndALaw(bFrames: Bool) async throws {
        GStreamer.initialize()
        let camera = try await RTSPCamera.start(bFrames: bFrames)
        let pipeline = try Pipeline.parse(
            "rtspsrc name=camera location=\(camera.url) latency=100 protocols=tcp "
                + "camera. ! rtph264depay ! h264parse ! fakesink name=video sync=false async=false "
                + "camera. ! rtppcmadepay ! fakesink name=audio sync=false async=false")
        let bus = pipeline.subscribeToBus()
        let video = BufferCounter(), audio = BufferCounter()
        let videoSink = try #require(pipeline.element(named: "video")?.staticPad("sink"))
        videoSink.countBuffers(into: video)
        pipeline.element(named: "audio")?.staticPad("sink")?.countBuffers(into: audio)
        #expect(pipeline.setState(.playing))
        defer {
            pipeline.setState(.null)
            withExtendedLifetime(bus) {}
        }
        try await eventually("video and audio from the camera", within: .seconds(20)) { () throws -> Bool? in
            if let error = bus.firstError { throw Timeout(description: "the camera does not play: \(error)") }
            return video.keyframes > 0 && video.value > 15 && audio.value > 10 ? true : nil
        }
        #expect(videoSink.caps?.int("width") == 640)
        #expect(videoSink.caps?.int("height") == 480)
        // Main profile is what lets it reorder frames; constrained baseline cannot.
        #expect(videoSink.caps?.string("profile") == (bFrames ? "main" : "constrained-baseline"))
    }
}
