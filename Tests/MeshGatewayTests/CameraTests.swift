import Foundation
import MeshGateway
import MeshTestSupport
import Testing

/// An IP camera in the call: the test's RTSP camera (H.264 and A-law) as the sender's source.
/// Its H.264 goes out as it comes where it can, and is transcoded where it cannot.
@Suite(.serialized)
struct CameraTests {
    @Test func aCamerasH264PassesThroughToABrowserAndARecordingGateway() async throws {
        let camera = try await RTSPCamera.start()
        try await Call.run { call in
            let sender = try await call.join("camera", record: false) { Self.useCamera(camera, &$0) }
            let recorder = try await call.join("recorder", receiveOnly)
            try await recorder.waitForMedia(from: ["camera"])
            // Said first: a picture that never comes at the camera's size would say less.
            #expect(try await sender.snapshot().peers.map(\.sentVideo) == ["passthrough"])
            let page = try call.open(.chromium, id: "page")
            try await page.waitUntil("the camera's picture at 640x480") { $0.receives(from: "camera", width: 640, height: 480) }
            let peers = try await sender.snapshot().peers
            #expect(peers.map(\.id) == ["page", "recorder"])
            #expect(peers.allSatisfy { $0.sentVideo == "passthrough" }, "\(peers.map { ($0.id, $0.sentVideo) })")
            try await Task.sleep(for: .seconds(2))
            try await recorder.leave()
            try await expectRecording(recorder.recordings(of: "camera").first, width: 640, height: 480, frames: 15)
        }
    }

    @Test func theCameraRestartsMidCallAndThePictureComesBackWithoutRejoining() async throws {
        let camera = try await RTSPCamera.start()
        try await Call.run { call in
            let sender = try await call.join("camera", record: false) { Self.useCamera(camera, &$0) }
            let recorder = try await call.join("recorder", record: false, receiveOnly)
            try await recorder.waitForMedia(from: ["camera"])
            camera.stop()
            // The frames stop coming, and the call stays up.
            var before = await recorder.videoBuffers(from: "camera")
            try await eventually("the frames to stop") { () async -> Bool? in
                let now = await recorder.videoBuffers(from: "camera")
                defer { before = now }
                return now == before ? true : nil
            }
            try await Task.sleep(for: .seconds(2))
            let stopped = await recorder.videoBuffers(from: "camera")
            let restarted = try await RTSPCamera.start(port: camera.port)
            try await eventually("the picture to come back", within: .seconds(20)) { () async -> Bool? in
                await recorder.videoBuffers(from: "camera") > stopped + 15 ? true : nil
            }
            // The same connections: nobody rejoined or renegotiated.
            #expect(try await recorder.snapshot().peers.map(\.state) == ["connected"])
            #expect(try await sender.snapshot().peers.map(\.sentVideo) == ["passthrough"])
            withExtendedLifetime(restarted) {}
        }
    }

    @Test func aCameraWithBFramesIsTranscoded() async throws {
        let camera = try await RTSPCamera.start(bFrames: true)
        try await Call.run { call in
            let sender = try await call.join("camera", record: false) { Self.useCamera(camera, &$0) }
            let recorder = try await call.join("recorder", receiveOnly)
            try await recorder.waitForMedia(from: ["camera"])
            #expect(try await sender.snapshot().peers.map(\.sentVideo) == ["encoded"])
            try await Task.sleep(for: .seconds(1))
            try await recorder.leave()
            // Transcoded at the sender's size.
            try await expectRecording(recorder.recordings(of: "camera").first, frames: 10)
        }
    }

    @Test func transcodeReencodesWhatCouldPassThrough() async throws {
        let camera = try await RTSPCamera.start()
        try await Call.run { call in
            let sender = try await call.join("camera", record: false) {
                Self.useCamera(camera, &$0)
                $0.transcode = true
            }
            let recorder = try await call.join("recorder", record: false, receiveOnly)
            try await recorder.waitForMedia(from: ["camera"])
            #expect(try await sender.snapshot().peers.map(\.sentVideo) == ["encoded"])
        }
    }

    @Test func anH264FilePassesThrough() async throws {
        let clip = try await Clip.make(seconds: 4, h264: true)
        try await Call.run { call in
            let sender = try await call.join("clip", record: false) {
                $0.video = .file(clip)
                $0.audio = .file(clip)
                $0.loop = true
            }
            let recorder = try await call.join("recorder", receiveOnly)
            try await recorder.waitForMedia(from: ["clip"])
            #expect(try await sender.snapshot().peers.map(\.sentVideo) == ["passthrough"])
            try await Task.sleep(for: .seconds(1))
            try await recorder.leave()
            // The file's own size, not the sender's --size.
            try await expectRecording(recorder.recordings(of: "clip").first, width: 480, height: 360, frames: 10)
        }
    }

    private static func useCamera(_ camera: RTSPCamera, _ configuration: inout GatewayConfiguration) {
        configuration.video = .network(camera.url)
        configuration.audio = .network(camera.url)
    }
}
