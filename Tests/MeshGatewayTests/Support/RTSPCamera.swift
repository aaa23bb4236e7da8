import Foundation
import MeshTestSupport

/// An IP camera on loopback: `Fixtures/rtsp-camera.py` (GStreamer's RTSP server), serving
/// H.264 and A-law at `url` until the test ends.
final class RTSPCamera: Sendable {
    let url: String
    private let process: MeshgateProcess

    private init(url: String, process: MeshgateProcess) {
        self.url = url
        self.process = process
    }

    static func start(bFrames: Bool = false) async throws -> RTSPCamera {
        guard let script = Bundle.module.path(forResource: "rtsp-camera", ofType: "py", inDirectory: "Fixtures") else {
            throw Timeout(description: "Fixtures/rtsp-camera.py is missing")
        }
        let process = try MeshgateProcess([script, "0"] + (bFrames ? ["--b-frames"] : []), executable: "/usr/bin/python3")
        let port = try await eventually("the RTSP camera to serve") { () -> Int? in
            guard process.isRunning else { throw Timeout(description: "the RTSP camera exited: \(process.stderr)") }
            return process.stdout.split(separator: "\n").first { $0.hasPrefix("ready ") }.flatMap { Int($0.dropFirst(6)) }
        }
        return RTSPCamera(url: "rtsp://127.0.0.1:\(port)/camera", process: process)
    }

    /// Stops the camera, as when it reboots.
    func stop() {
        process.signal(SIGKILL)
    }

    deinit {
        process.signal(SIGKILL)
    }
}
