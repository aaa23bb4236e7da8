import ArgumentParser

/// `--size WxH`: the video size sent (and `--compose-size`).
struct Size: Sendable, CustomStringConvertible {
    var width: Int
    var height: Int

    static let standard = Size(width: 640, height: 480)

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `WIDTHxHEIGHT`, from 16x16 to 7680x4320; both even, since the encoders take
    /// 4:2:0 video, whose chroma planes are half the size each way.
    init(argument: String, flag: String = "--size") throws(ValidationError) {
        let parts = argument.split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]),
              (16...7680).contains(width), (16...4320).contains(height),
              width % 2 == 0, height % 2 == 0 else {
            throw ValidationError("\(flag) must be WIDTHxHEIGHT with even numbers, e.g. 1280x720, not '\(argument)'")
        }
        self.init(width: width, height: height)
    }

    var description: String { "\(width)x\(height)" }
}
