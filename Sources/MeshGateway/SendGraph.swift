/// The sending half of the pipeline as one gst-launch description: sources, then ONE
/// encoder per kind, each ending in a tee that per-peer branches attach to. With
/// `--encode per-peer` the tees carry raw media and each peer's branch has its own encoder.
struct SendGraph {
    static let videoTee = "video_tee"
    static let audioTee = "audio_tee"
    /// The encoders' names, in the pipeline (`--encode once`) or in each peer's branch.
    static let videoEncoder = "video_encoder"
    static let audioEncoder = "audio_encoder"
    /// The queues after a `file:` source's decoder, where the file waits for the first peer.
    static let fileQueues = ["video_file_queue", "audio_file_queue"]

    let description: String
    let sendsVideo: Bool
    let sendsAudio: Bool

    init(_ configuration: GatewayConfiguration) {
        var parts: [String] = []
        var video: String?
        var audio: String?
        if let preset = configuration.preset {
            parts.append(preset.description)
            video = preset.names("video") ? "video." : nil
            audio = preset.names("audio") ? "audio." : nil
        } else {
            switch configuration.video {
            case .test: video = "videotestsrc is-live=true pattern=smpte"
            case .camera(let device):
                // decodebin takes raw frames as they are and decodes MJPEG, whichever the camera gives.
                video = "v4l2src" + (device.map { " device=\(Self.quoted($0))" } ?? "") + " ! decodebin"
            case .file(let path):
                parts.append("filesrc location=\(Self.quoted(path)) ! decodebin name=file_video")
                video = "file_video. ! queue name=video_file_queue ! clocksync"
            case .none: video = nil
            }
            switch configuration.audio {
            case .test: audio = "audiotestsrc is-live=true wave=sine freq=440 volume=0.2"
            case .microphone(let device): audio = "alsasrc" + (device.map { " device=\(Self.quoted($0))" } ?? "")
            case .file(let path):
                if configuration.video == .file(path) {
                    audio = "file_video. ! queue name=audio_file_queue ! clocksync"
                } else {
                    parts.append("filesrc location=\(Self.quoted(path)) ! decodebin name=file_audio")
                    audio = "file_audio. ! queue name=audio_file_queue ! clocksync"
                }
            case .none: audio = nil
            }
        }
        let c = configuration
        let once = c.encode == .once
        if let video {
            // videorate fills gaps with copies of the last frame; not one that long: a file
            // that waited for the first peer, or a camera that stalled.
            parts.append("\(video) ! videoconvert ! videoscale ! videorate max-duplication-time=1000000000 "
                + "! video/x-raw,format=I420,width=\(c.width),height=\(c.height),framerate=\(c.fps)/1,pixel-aspect-ratio=1/1 "
                + "! queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream "
                + (once ? "! \(c.videoEncoderDescription(name: Self.videoEncoder)) " : "")
                + "! tee name=\(Self.videoTee) allow-not-linked=true")
        }
        if let audio {
            // What Opus takes, fixed here: the tees are never renegotiated as peers come.
            parts.append("\(audio) ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=[1,2] "
                + "! queue max-size-buffers=5 max-size-bytes=0 max-size-time=0 leaky=downstream "
                + (once ? "! \(Opus.encoder(name: Self.audioEncoder)) " : "")
                + "! tee name=\(Self.audioTee) allow-not-linked=true")
        }
        description = parts.joined(separator: "  ")
        sendsVideo = video != nil
        sendsAudio = audio != nil
    }

    /// Quotes a value for gst-launch syntax.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
