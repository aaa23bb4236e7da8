import Foundation
import GStreamer
import Logging

/// The pipeline and its sending half, shared by every peer: sources, one encoder per kind
/// (per video codec), the tees the peers' bins attach to. Owns the start and stop of the
/// pipeline, files that wait for the first peer or play in a loop, and the bus. Used only
/// from the gateway's loop.
final class SendingMedia {
    let pipeline: Pipeline
    /// The tees peers attach to.
    let feeds: Feeds
    /// What the shared video encoders have made (`--encode once`): their keyframes are what
    /// every peer's request for one costs.
    let encodedVideo: BufferCounter?
    /// Per shared video encoder: open while a peer takes its codec (and at the start, until
    /// its caps are known: offers carry them); closed, it encodes nothing.
    private let encoderGates: [VideoCodec: Gate]
    /// The shared encoders that run because a peer takes their codec, as logged.
    private var runningEncoders: Set<VideoCodec> = []
    /// The file and network sources, opened by uridecodebins.
    private(set) var inputs: [SourceInput] = []
    /// Closed while no shared encoder runs, when the source's own video passes through: then
    /// nothing is decoded either.
    private let transcoding: Gate?
    /// Whether the source's audio goes out as it comes (Opus).
    private let audioPasses: Bool
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private var bus: BusSubscription?
    /// Decodebins that play their file in a loop, sought back to the start at each segment-done.
    private var loopedDecoders: [Element] = []
    /// `file:` sources wait for the first peer to connect, so that someone sees them from the
    /// start: the probe that holds each one.
    private var waitingFiles: [Probe] = []
    /// Errors from inside sources `meshgate ctl source` switched in, noted as the bus reports them.
    let switchErrors = SourceSwitch.Errors()
    /// What `meshgate ctl mute` blanks, by kind.
    private var mutes: [MediaKind: Probe] = [:]

    /// Checks the sources and builds the pipeline (off the loop's thread: its elements load
    /// their plugins and open their devices), stopped.
    static func make(_ configuration: GatewayConfiguration, logger: Logger, post: @escaping @Sendable (Gateway.Event) -> Void) async throws(GatewayError) -> SendingMedia {
        try checkSources(configuration)
        let decision = try await decideSources(configuration, logger: logger)
        let graph = SendGraph(configuration, sources: decision)
        let description = graph.description
        let pipeline: Pipeline
        do {
            pipeline = try await GStreamer.blocking { () throws -> Pipeline in
                description.isEmpty ? Pipeline(name: "meshgate") : try Pipeline.parse(description)
            }
        } catch {
            throw GatewayError("cannot build the media pipeline: \(error)")
        }
        let media = SendingMedia(pipeline: pipeline, graph: graph, decision: decision, configuration: configuration, logger: logger)
        for input in graph.inputs {
            let name = input.name
            media.inputs.append(try SourceInput(input, pipeline: pipeline, latency: configuration.sourceLatency) { reason in
                post(.sourceLost(name: name, reason: reason))
            })
        }
        return media
    }

    /// Probes the file and network sources (each once) and a camera's own H.264, and decides
    /// how their media goes out.
    private static func decideSources(_ configuration: GatewayConfiguration, logger: Logger) async throws(GatewayError) -> SourceDecision {
        guard configuration.preset == nil else { return SourceDecision() }
        var wanted: [(URISource, Set<MediaKind>)] = []
        for (kind, source) in [(MediaKind.video, configuration.video.opened), (.audio, configuration.audio.opened)] {
            guard let source else { continue }
            if let index = wanted.firstIndex(where: { $0.0 == source }) { wanted[index].1.insert(kind) } else { wanted.append((source, [kind])) }
        }
        var decision = SourceDecision()
        if case .camera(let device) = configuration.video, let camera = await cameraStream(device, configuration, logger: logger) {
            wanted.insert((camera, [.video]), at: 0)
        }
        for (source, kinds) in wanted {
            let facts: SourceFacts
            do {
                facts = try await SourceProbe.run(source, kinds: kinds, latency: configuration.sourceLatency,
                                                  timeout: source.isLive ? .seconds(10) : .seconds(5))
            } catch {
                // A camera also gives frames to decode, as it would without passthrough.
                guard case .camera = source.kind else { throw error }
                logger.warning("cannot take the camera's own H.264; its video is decoded and encoded", metadata: [
                    "source": "\(source.shown)", "reason": "\(error)",
                ])
                continue
            }
            if kinds.contains(.video), let video = facts.video, let feed = facts.videoFeed(configuration) {
                decision.video = feed
                if case .camera = source.kind, case .passthrough = feed { decision.camera = source }
                var metadata: Logger.Metadata = ["source": "\(source.shown)", "format": "\(video.format)"]
                if let width = video.width, let height = video.height { metadata["size"] = "\(width)x\(height)" }
                if let profile = video.profile { metadata["profile"] = "\(profile)" }
                switch feed {
                case .passthrough:
                    logger.info("video passes through as it comes to peers that take it; others get it transcoded", metadata: metadata)
                case .transcode(let reason?):
                    metadata["why"] = "\(reason)"
                    logger.info("video is transcoded", metadata: metadata)
                case .transcode(nil):
                    break
                }
            }
            if kinds.contains(.audio), let audio = facts.audio {
                decision.audioPasses = facts.audioPasses(configuration)
                if decision.audioPasses { logger.info("audio passes through as it comes (Opus)", metadata: ["source": "\(source.shown)"]) }
                else { logger.debug("audio is encoded to Opus", metadata: ["source": "\(source.shown)", "format": "\(audio)"]) }
            }
        }
        return decision
    }

    /// A camera's own H.264 at the size and frame rate asked, when it gives one and it may
    /// pass through; the log says why not when it gives H.264 at other sizes only.
    private static func cameraStream(_ device: String?, _ configuration: GatewayConfiguration, logger: Logger) async -> URISource? {
        guard configuration.encode == .once, !configuration.transcode,
              let caps = await GStreamer.blocking({ Device.cameraCaps(device) }) else { return nil }
        switch CameraStream.choose(from: caps, width: configuration.width, height: configuration.height, fps: configuration.fps) {
        case .h264(let mode):
            return URISource(camera: device, caps: mode)
        case .otherSizes(let sizes):
            logger.info("video is transcoded", metadata: [
                "source": "\(URISource.cameraURI(device))", "size": "\(configuration.width)x\(configuration.height)",
                "why": "the camera gives H.264 at \(sizes.joined(separator: ", ")) only; --size with one of them passes it through",
            ])
            return nil
        case .none:
            return nil
        }
    }

    private init(pipeline: Pipeline, graph: SendGraph, decision: SourceDecision, configuration: GatewayConfiguration, logger: Logger) {
        self.pipeline = pipeline
        self.configuration = configuration
        self.logger = logger
        // Every peer's RTCP maps our media's time to the wall clock, and a receiver plays and
        // measures by it: a sound card's clock, which a pipeline with a microphone would pick,
        // can run off that rate.
        pipeline.useSystemClock()
        var feeds = Feeds()
        if graph.sendsAudio { feeds.audio = pipeline.element(named: SendGraph.audioTee) }
        var gates: [VideoCodec: Gate] = [:]
        if graph.sendsVideo, configuration.encode == .once {
            for codec in configuration.videoCodecs {
                feeds.encodedVideo[codec] = pipeline.element(named: SendGraph.videoTee(codec))
                let gate = Gate(open: true)
                pipeline.element(named: SendGraph.encoderQueue(codec))?.staticPad("sink")?.gate(gate)
                gates[codec] = gate
            }
        } else if graph.sendsVideo {
            feeds.rawVideo = pipeline.element(named: SendGraph.videoTee)
        }
        if case .passthrough(let video) = decision.video, let tee = pipeline.element(named: SendGraph.passthroughTee) {
            feeds.passthrough = (tee, video)
            let gate = Gate(open: true)
            pipeline.element(named: SendGraph.transcodeQueue)?.staticPad("sink")?.gate(gate)
            transcoding = gate
        } else {
            transcoding = nil
        }
        encoderGates = gates
        audioPasses = decision.audioPasses
        // What the tees carry is fixed when the pipeline starts, and every peer's branch takes it
        // as it is. Otherwise each branch linked asks upstream to renegotiate, and a sender
        // meeting several peers at once on a busy machine now and then lost its audio source
        // for good (not-negotiated, in the source's thread, where renegotiation runs).
        let shared = [feeds.audio, feeds.rawVideo, feeds.passthrough?.tee].compactMap { $0 } + Array(feeds.encodedVideo.values)
        for tee in shared { tee.staticPad("sink")?.dropReconfigureRequests() }
        // A shared encoder: each peer's request for a keyframe (joining, or a PLI) would cost
        // every peer one. Twice a second at most, a crowd of joiners shares one.
        if !feeds.encodedVideo.isEmpty {
            let encoded = BufferCounter()
            for tee in feeds.encodedVideo.values {
                tee.staticPad("sink")?.coalesceKeyframeRequests(every: Self.keyframeInterval, counting: encoded)
            }
            encodedVideo = encoded
        } else {
            encodedVideo = nil
        }
        self.feeds = feeds
        waitingFiles = SendGraph.fileQueues.compactMap { pipeline.element(named: $0)?.staticPad("src")?.holdAfterFirstBuffer() }
    }

    /// The shortest time between two keyframes peers ask for.
    static let keyframeInterval = Duration.milliseconds(500)

    /// Refuses, before anything starts, sources that cannot work.
    static func checkSources(_ configuration: GatewayConfiguration) throws(GatewayError) {
        if case .camera(let device?) = configuration.video, !FileManager.default.fileExists(atPath: device) {
            throw GatewayError("no camera at \(device): list cameras with `meshgate devices`, or send a test pattern with --video test")
        }
        var files: [String] = []
        if case .file(let path) = configuration.video { files.append(path) }
        if case .file(let path) = configuration.audio { files.append(path) }
        for path in files where !FileManager.default.isReadableFile(atPath: path) {
            throw GatewayError("cannot read \(path): check the path and its permissions")
        }
        if let directory = configuration.recordDirectory {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    throw GatewayError("cannot create the recording folder \(directory): \(error.localizedDescription)")
                }
            } else if !isDirectory.boolValue || !FileManager.default.isWritableFile(atPath: directory) {
                throw GatewayError("--record \(directory) is not a writable folder")
            }
        }
    }

    /// Plays the pipeline, its bus reporting to `post`; a source that ends posts `.sourceEnded`.
    func start(post: @escaping @Sendable (Gateway.Event) -> Void) async throws(GatewayError) {
        let switchErrors = switchErrors
        let bus = pipeline.subscribeToBus { message in
            if case .error(let source, let text, _) = message { switchErrors.note(source: source, text: text) }
            post(.bus(message))
        }
        self.bus = bus
        // Where the source's media enters every encoder: its end ends the call.
        let entries = [feeds.audio, pipeline.element(named: SendGraph.videoTee)].compactMap { $0 }
        for tee in entries { tee.staticPad("sink")?.onEOS { post(.sourceEnded) } }
        for input in inputs {
            do {
                try await input.open()
            } catch {
                await stop()
                throw GatewayError("cannot open \(input.input.source.shown): \(error)")
            }
        }
        let pipeline = pipeline
        guard await GStreamer.blocking({ pipeline.setState(.playing) }) else {
            // The bus handler ran before set_state returned: the error is there.
            let reason = bus.firstError ?? "the pipeline refused to start"
            await stop()
            throw GatewayError("cannot start the media: \(reason)")
        }
        await startLooping()
    }

    /// Turns each looped file into a segment that restarts when it ends. The first seek
    /// needs the demuxer ready, which takes a moment after the pipeline starts.
    private func startLooping() async {
        // A preset's decodebins named `loop…`, and with `--loop` those named `file…`
        // (the `file:` sources and a preset's).
        loopedDecoders = pipeline.elementNames.filter { name in
            name == "loop" || name.hasPrefix("loop_") || (configuration.loop && (name == "file" || name.hasPrefix("file_")))
        }.compactMap { pipeline.element(named: $0) }
        for decoder in loopedDecoders {
            let deadline = ContinuousClock.now + .seconds(5)
            while !decoder.seekToStartAsSegment(flush: true) {
                if ContinuousClock.now > deadline {
                    logger.warning("cannot loop this file: it does not seek; it plays once", metadata: ["element": "\(decoder.name)"])
                    break
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Plays the files that wait from where they wait (their start), as if they began now.
    func startFiles() async {
        guard !waitingFiles.isEmpty else { return }
        // A file that passes through sent its first frame, a keyframe, before any peer was
        // there to take it, and nobody can ask a file for another: it starts over, and the
        // flush of that seek stops before what the peers are fed from.
        if feeds.passthrough != nil || audioPasses {
            for probe in waitingFiles { probe.pad.dropFlushes() }
            for input in inputs where !input.isLive { await input.rewind(asSegment: configuration.loop) }
        }
        let now = Int(pipeline.runningTime ?? 0)
        for probe in waitingFiles {
            probe.pad.setOffset(nanoseconds: now)
            probe.remove()
        }
        waitingFiles = []
        logger.info("file started")
    }

    /// A looped file played to its end: from the start again.
    func segmentDone() {
        for decoder in loopedDecoders where !decoder.seekToStartAsSegment(flush: false) {
            logger.warning("cannot play the file again; it ends here", metadata: ["element": "\(decoder.name)"])
        }
    }

    /// Runs each shared video encoder only while a peer takes its codec, and decodes the
    /// source's video only while one runs, when it also passes through (called after peers
    /// come and go).
    func updateEncoders() {
        for (codec, gate) in encoderGates.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let tee = feeds.encodedVideo[codec] else { continue }
            // Until its first frame has set the caps that offers carry, it runs anyway.
            let primed = tee.staticPad("sink")?.hasCurrentCaps ?? true
            let needed = tee.int("num-src-pads") > 0
            if needed || !primed { gate.open() } else { gate.close() }
            guard primed, needed != runningEncoders.contains(codec) else { continue }
            if needed {
                runningEncoders.insert(codec)
                // Its first frame after a pause starts the new peer's picture (asked of the
                // encoder's own pad: upstream events go into source pads).
                tee.staticPad("sink")?.peer?.requestKeyframe()
                // The source's own video passes through to others: this one is decoded first.
                let from = feeds.passthrough == nil ? "" : "; it transcodes the source's video from its next keyframe"
                logger.info("video encoder started: a peer takes \(codec.encodingName)\(from)", metadata: ["element": "\(configuration.videoEncoder(codec).factory)"])
            } else {
                runningEncoders.remove(codec)
                logger.info("video encoder stopped: no peer takes \(codec.encodingName)", metadata: ["element": "\(configuration.videoEncoder(codec).factory)"])
            }
        }
        guard let transcoding else { return }
        if encoderGates.values.contains(where: \.isOpen) { transcoding.open() } else { transcoding.close() }
    }

    /// The codecs whose shared encoder runs for peers now.
    var encodersRunning: [VideoCodec] {
        configuration.videoCodecs.filter { runningEncoders.contains($0) }
    }

    /// What comes from the source's video when it passes through: how often its keyframes
    /// come says how long a peer that joins waits for its first picture.
    var passthroughWatch: StreamWatch? {
        guard feeds.passthrough != nil else { return nil }
        return inputs.lazy.compactMap { $0.watches[.video] }.first
    }

    /// The input whose element a bus message's path (`/meshgate/network/…`) is inside.
    func input(inPath path: String) -> SourceInput? {
        let parts = path.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return inputs.first { $0.name == parts[1] }
    }

    var hasLiveInputs: Bool { inputs.contains(where: \.isLive) }

    /// Whether each kind sent comes now: a network source's phase, or playing for one
    /// made in the pipeline (a test pattern, a device, a file).
    var sourcePhases: [MediaKind: SourceHealth.Phase] {
        var phases: [MediaKind: SourceHealth.Phase] = [:]
        for kind in feeds.sending {
            phases[kind] = inputs.first { $0.isLive && $0.input.kinds.contains(kind) }?.health.phase ?? .playing
        }
        return phases
    }

    /// A network source dropped: closed now, opened again after the backoff.
    func sourceLost(_ name: String, reason: String, retry: (Duration) -> Void) async {
        guard let input = inputs.first(where: { $0.name == name && $0.isLive }) else { return }
        let wasPlaying = input.health.phase == .playing
        guard let delay = await input.drop(now: .now) else { return }
        let metadata: Logger.Metadata = ["source": "\(input.input.source.shown)", "reason": "\(reason)", "retry_in_s": "\(delay.components.seconds)"]
        if wasPlaying {
            logger.warning("source lost; peers stay connected, and it is opened again until it returns", metadata: metadata)
        } else {
            logger.info("source still unavailable", metadata: metadata)
        }
        retry(delay)
    }

    /// Opens a dropped network source again.
    func reopenSource(_ name: String) async {
        guard let input = inputs.first(where: { $0.name == name }), case .down = input.health.phase else { return }
        do {
            try await input.reopen(now: .now)
        } catch {
            logger.warning("cannot open the source again", metadata: ["source": "\(input.input.source.shown)", "reason": "\(error)"])
        }
    }

    /// Sends black frames or silence in place of `kind` from now on, or the source again;
    /// nothing else changes (no renegotiation, the encoders run on). A reason when it cannot.
    func setMuted(_ kind: MediaKind, _ muted: Bool) -> String? {
        if let reason = unalterable(kind, doing: "muted") { return reason }
        guard let pad = pipeline.element(named: SendGraph.rawQueue(kind))?.staticPad("src") else { return "\(kind.rawValue) cannot be muted here" }
        if muted, mutes[kind] == nil {
            mutes[kind] = pad.blank()
        } else if !muted {
            mutes.removeValue(forKey: kind)?.remove()
        }
        return nil
    }

    /// Why what is sent of `kind` cannot be `doing` (muted, switched): nothing is sent, or
    /// it passes through as it comes and is never decoded. Nil when it can.
    func unalterable(_ kind: MediaKind, doing: String) -> String? {
        guard feeds.sending.contains(kind) else { return "this gateway sends no \(kind.rawValue)" }
        if configuration.isHub {
            return "\(kind.rawValue) cannot be \(doing) here"
        }
        let passes = kind == .video ? feeds.passthrough != nil : audioPasses
        guard !passes else {
            return "\(kind.rawValue) cannot be \(doing): the source's own \(kind == .video ? "video" : "Opus") passes through as it comes; start with --transcode"
        }
        return nil
    }

    /// Looks at whether each network source still delivers; returns those that stopped.
    func checkSources() -> [(name: String, reason: String)] {
        var stopped: [(name: String, reason: String)] = []
        let now = ContinuousClock.now
        for input in inputs where input.isLive {
            switch input.check(now: now) {
            case .lost(let reason)?:
                stopped.append((input.name, reason))
            case .back(let after)?:
                logger.info("source back; peers get its media again", metadata: [
                    "source": "\(input.input.source.shown)", "down_s": "\(after.components.seconds)",
                ])
            case nil:
                break
            }
        }
        return stopped
    }

    /// Stops the pipeline and its bus handler. Peers' bins must be gone first.
    func stop() async {
        let pipeline = pipeline
        _ = await GStreamer.blocking { pipeline.setState(.null) }
        for input in inputs { await input.close() }
        bus = nil
    }
}

