import GStreamer

/// A camera's own H.264 (UVC cameras that encode, the Raspberry Pi's camera driver), taken
/// as the camera gives it so that it can pass through: the mode asked of the camera is
/// chosen from what the device lists. Decided from caps alone, so it is tested without one.
enum CameraStream {
    enum Choice: Equatable {
        /// The caps to ask the camera for: its H.264 at the size wanted, at the frame rate
        /// nearest the one wanted.
        case h264(String)
        /// The camera gives no H.264.
        case none
        /// It gives H.264, but not at the size wanted: the sizes it has (`1920x1080`).
        case otherSizes([String])
    }

    /// What to ask of a camera whose formats are `device` for video of this size and rate.
    static func choose(from device: Caps, width: Int, height: Int, fps: Int) -> Choice {
        let encoded = "video/x-h264, stream-format=byte-stream, alignment=au"
        guard let h264 = Caps(encoded), let sized = Caps("\(encoded), width=\(width), height=\(height)") else { return .none }
        let given = device.intersection(h264)
        guard !given.isEmpty else { return .none }
        let fitting = device.intersection(sized)
        guard !fitting.isEmpty else { return .otherSizes(given.sizes.map { "\($0.width)x\($0.height)" }) }
        return .h264(fitting.fixated(framerateNearest: fps).description)
    }
}

extension URISource {
    /// A camera's own stream, asked of it in `caps` (from ``CameraStream/choose(from:width:height:fps:)``).
    init(camera device: String?, caps: String) {
        self.init(uri: Self.cameraURI(device), kind: .camera(device: device, caps: caps))
    }

    /// How a camera is named in logs and errors: `v4l2:///dev/video0`.
    static func cameraURI(_ device: String?) -> String {
        "v4l2://" + (device ?? "/dev/video0")
    }
}
