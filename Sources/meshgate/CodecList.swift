import ArgumentParser
import MeshGateway

/// `--video-codec`: the video codecs to send, best first (`h264,vp8`).
struct CodecList: Sendable, CustomStringConvertible {
    let codecs: [VideoCodec]

    static let standard = CodecList(codecs: [.vp8, .h264])

    private init(codecs: [VideoCodec]) {
        self.codecs = codecs
    }

    init(argument: String, flag: String = "--video-codec") throws(ValidationError) {
        var codecs: [VideoCodec] = []
        for name in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let codec = VideoCodec(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()), !codecs.contains(codec) else {
                throw ValidationError("\(flag) must be vp8, h264, or both best first (h264,vp8), not '\(argument)'")
            }
            codecs.append(codec)
        }
        self.init(codecs: codecs)
    }

    var description: String { codecs.map(\.rawValue).joined(separator: ",") }
}
