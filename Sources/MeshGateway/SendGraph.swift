/// The sending half of the pipeline as one gst-launch description: sources, then ONE
/// encoder per kind (per video codec of `--video-codec`), each ending in a tee that per-peer
/// branches attach to. With `--encode per-peer` the tees carry raw media and each peer's
/// branch has its own encoder.
struct SendGraph {
    /// Raw video (`--encode per-peer`), or what the encoders of each codec take it from.
    static let videoTee = "video_tee"
    static let audioTee = "audio_tee"
    /// The encoders' names, in the pipeline (`--encode once`) or in each peer's branch.
    static let videoEncoder = "video_encoder"
    static let audioEncoder = "audio_encoder"

    /// The tee of the shared encoder of `codec` (`--encode once`).
    static func videoTee(_ codec: VideoCodec) -> String { "video_tee_\(codec.rawValue)" }
    /// The queue before the shared encoder of `codec`, where it is gated while no peer takes it.
    static func encoderQueue(_ codec: VideoCodec) -> String { "video_encode_\(codec.rawValue)" }
    /// The input-selector of each kind's raw media: `meshgate ctl source` switches what feeds it.
    static func selector(_ kind: MediaKind) -> String { "\(kind.rawValue)_select" }
    /// The queue of each kind's raw media before its encoders (or the raw tee), where muting blanks it.
    static func rawQueue(_ kind: MediaKind) -> String { "\(kind.rawValue)_raw" }
    /// The queues after a `file:` source's decoder, where the file waits for the first peer.
    static let fileQueues = ["video_file_queue", "audio_file_queue"]

    /// The tee of a source's video as it comes, for peers that take it (passthrough).
    static let passthroughTee = "video_pass_tee"
    /// The queue before the shared encoder when it transcodes a source that also passes through.
    static let transcodeQueue = "video_transcode"

    let description: String
    let sendsVideo: Bool
    let sendsAudio: Bool
    /// The file, network and camera sources to open, each once, with the kinds they feed.
    let inputs: [Input]

    /// A file, network or camera source: an element added by ``SourceInput``, linked to the
    /// graph's entry queue of each kind it feeds.
    struct Input: Equatable {
        let source: URISource
        let name: String
        let kinds: Set<MediaKind>
        /// The formats it is told not to decode: what passes through.
        let undecoded: String
    }

    /// The queue a file, network or camera source's stream of `kind` enters the graph at.
    static func entry(_ kind: MediaKind, file: Bool) -> String {
        file ? "\(kind.rawValue)_file_queue" : "\(kind.rawValue)_in"
    }

    init(_ configuration: GatewayConfiguration, sources: SourceDecision = SourceDecision()) {
        var parts: [String] = []
        var video: String?
        var audio: String?
        var sendsAudio = false
        var inputs: [Input] = []
        /// The entry of a source's stream, paced by the clock when it is a file.
        func entry(_ kind: MediaKind, _ source: URISource) -> String {
            "queue name=\(Self.entry(kind, file: !source.isLive))" + (source.isLive ? "" : " ! clocksync")
        }
        if configuration.isHub {
            // The hub's picture of everyone; its sound is each peer's own mix, not a tee here.
            let hub = Composer.hubVideo(width: configuration.width, height: configuration.height, fps: configuration.fps)
            parts.append(hub.background)
            video = hub.source
        } else if let preset = configuration.preset {
            parts.append(preset.description)
            video = preset.names("video") ? "video." : nil
            audio = preset.names("audio") ? "audio." : nil
        } else {
            // A camera's own H.264 that passes through is opened as a source of its own.
            let videoSource = sources.camera ?? configuration.video.opened
            if let source = videoSource {
                if case .passthrough(let passed) = sources.video {
                    // As it comes for peers that take it; decoded for the shared encoder only
                    // while a peer needs that (``SendingMedia`` gates it).
                    parts.append("\(entry(.video, source)) ! \(passed.codec == .h264 ? "h264parse" : "identity") "
                        + "! tee name=\(Self.passthroughTee) allow-not-linked=true")
                    video = "\(Self.passthroughTee). ! queue name=\(Self.transcodeQueue) max-size-buffers=30 max-size-bytes=0 max-size-time=0 leaky=downstream ! decodebin"
                } else {
                    video = entry(.video, source)
                }
            } else {
                switch configuration.video {
                case .test: video = "videotestsrc is-live=true pattern=smpte"
                case .camera(let device):
                    // decodebin takes raw frames as they are and decodes MJPEG, whichever the camera gives.
                    video = "\(Self.camera(device)) ! decodebin"
                case .file, .network, .none: video = nil
                }
            }
            switch configuration.audio {
            case .tone(let hertz): audio = "audiotestsrc is-live=true wave=sine freq=\(hertz) volume=0.2"
            case .microphone(let device): audio = "alsasrc" + (device.map { " device=\(Self.quoted($0))" } ?? "")
            case .file, .network:
                guard let source = configuration.audio.opened else { break }
                if sources.audioPasses {
                    parts.append("\(entry(.audio, source)) ! opusparse ! tee name=\(Self.audioTee) allow-not-linked=true")
                    sendsAudio = true
                } else {
                    audio = entry(.audio, source)
                }
            case .none: audio = nil
            }
            let passedVideo: VideoCodec? = if case .passthrough(let passed) = sources.video { passed.codec } else { nil }
            let audioSource = configuration.audio.opened
            if let videoSource, videoSource == audioSource {
                inputs.append(Input(source: videoSource, name: videoSource.kind.name, kinds: [.video, .audio],
                                    undecoded: SourceFacts.undecoded(video: passedVideo, audio: sources.audioPasses)))
            } else {
                if let videoSource {
                    inputs.append(Input(source: videoSource, name: videoSource.kind.name + "_video", kinds: [.video],
                                        undecoded: SourceFacts.undecoded(video: passedVideo, audio: true)))
                }
                if let audioSource {
                    // Video it does not feed is left encoded: nothing decodes what nobody uses.
                    inputs.append(Input(source: audioSource, name: audioSource.kind.name + "_audio", kinds: [.audio],
                                        undecoded: SourceFacts.undecoded(video: .h264, audio: sources.audioPasses) + ";" + SourceFacts.otherVideo))
                }
            }
        }
        let c = configuration
        let once = c.encode == .once
        if let video {
            // videorate fills gaps with copies of the last frame; not one that long: a file
            // that waited for the first peer, or a camera that stalled.
            parts.append("\(video) ! videoconvert ! videoscale ! videorate max-duplication-time=1000000000 "
                + "! video/x-raw,format=I420,width=\(c.width),height=\(c.height),framerate=\(c.fps)/1,pixel-aspect-ratio=1/1 "
                + "! input-selector name=\(Self.selector(.video)) sync-streams=false "
                + "! queue name=\(Self.rawQueue(.video)) max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream "
                + "! tee name=\(Self.videoTee) allow-not-linked=true")
            if once {
                for codec in c.videoCodecs {
                    parts.append("\(Self.videoTee). ! queue name=\(Self.encoderQueue(codec)) max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream "
                        + "! \(c.videoEncoderDescription(codec, name: "\(Self.videoEncoder)_\(codec.rawValue)")) "
                        + "! tee name=\(Self.videoTee(codec)) allow-not-linked=true")
                }
            }
        }
        if let audio {
            // What Opus takes, fixed here: the tees are never renegotiated as peers come.
            parts.append("\(audio) ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=[1,2] "
                + "! input-selector name=\(Self.selector(.audio)) sync-streams=false "
                + "! queue name=\(Self.rawQueue(.audio)) max-size-buffers=5 max-size-bytes=0 max-size-time=0 leaky=downstream "
                + (once ? "! \(Opus.encoder(name: Self.audioEncoder)) " : "")
                + "! tee name=\(Self.audioTee) allow-not-linked=true")
        }
        description = parts.joined(separator: "  ")
        sendsVideo = video != nil
        self.sendsAudio = sendsAudio || audio != nil
        self.inputs = inputs
    }

    /// The v4l2src of a camera (the default one when `device` is nil).
    static func camera(_ device: String?) -> String {
        "v4l2src" + (device.map { " device=\(quoted($0))" } ?? "")
    }

    /// Quotes a value for gst-launch syntax.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
