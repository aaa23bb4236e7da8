import Foundation
import MeshTestSupport

/// An IP camera on loopback: `Fixtures/rtsp-camera.py` (GStreamer's RTSP server), serving
/// H.264 and A-law at `url` until the test ends.
final class RTSPCamera: Sendable {
    let url: String
    let port: Int
    private let process: MeshgateProcess

    private init(port: Int, process: MeshgateProcess) {
        url = "rtsp://127.0.0.1:\(port)/camera"
        self.port = port
        self.process = process
    }

    /// Starts a camera on `port` (0: a free one), as after a reboot.
    static func start(port: Int = 0, bFrames: Bool = false) async throws -> RTSPCamera {
        guard let script = Bundle.module.path(forResource: "rtsp-camera", ofType: "py", inDirectory: "Fixtures") else {
            throw Timeout(description: "Fixtures/rtsp-camera.py is missing")
        }
        let process = try MeshgateProcess([script, String(port)] + (bFrames ? ["--b-frames"] : []), executable: "/usr/bin/python3")
        let port = try await eventually("the RTSP camera to serve") { () -> Int? in
            guard process.isRunning else { throw Timeout(description: "the RTSP camera exited: \(process.stderr)") }
            return process.stdout.split(separator: "\n").first { $0.hasPrefix("ready ") }.flatMap { Int($0.dropFirst(6)) }
        }
        return RTSPCamera(port: port, process: process)
    }

    /// Stops the camera, as when it reboots.
    func stop() {
        process.signal(SIGKILL)
    }

    deinit {
        process.signal(SIGKILL)
    }
}
