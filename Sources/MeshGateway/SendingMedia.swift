import Foundation
import GStreamer
import Logging

/// The pipeline and its sending half, shared by every peer: sources, one encoder per kind,
/// the tees the peers' bins attach to. Owns the start and stop of the pipeline, files that
/// wait for the first peer or play in a loop, and the bus. Used only from the gateway's loop.
final class SendingMedia {
    let pipeline: Pipeline
    /// The tees, by the kind they carry.
    let tees: [MediaKind: Element]
    /// What the shared video encoder has made (`--encode once`): its keyframes are what every
    /// peer's request for one costs.
    let encodedVideo: BufferCounter?
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private var bus: BusSubscription?
    /// Decodebins that play their file in a loop, sought back to the start at each segment-done.
    private var loopedDecoders: [Element] = []
    /// `file:` sources wait for the first peer to connect, so that someone sees them from the
    /// start: the probe that holds each one.
    private var waitingFiles: [Probe] = []

    /// Checks the sources and builds the pipeline (off the loop's thread: its elements load
    /// their plugins and open their devices), stopped.
    static func make(_ configuration: GatewayConfiguration, logger: Logger) async throws(GatewayError) -> SendingMedia {
        try checkSources(configuration)
        let graph = SendGraph(configuration)
        let description = graph.description
        do {
            let pipeline = try await GStreamer.blocking { () throws -> Pipeline in
                description.isEmpty ? Pipeline(name: "meshgate") : try Pipeline.parse(description)
            }
            return SendingMedia(pipeline: pipeline, graph: graph, configuration: configuration, logger: logger)
        } catch {
            throw GatewayError("cannot build the media pipeline: \(error)")
        }
    }

    private init(pipeline: Pipeline, graph: SendGraph, configuration: GatewayConfiguration, logger: Logger) {
        self.pipeline = pipeline
        self.configuration = configuration
        self.logger = logger
        // Every peer's RTCP maps our media's time to the wall clock, and a receiver plays and
        // measures by it: a sound card's clock, which a pipeline with a microphone would pick,
        // can run off that rate.
        pipeline.useSystemClock()
        var tees: [MediaKind: Element] = [:]
        if graph.sendsVideo { tees[.video] = pipeline.element(named: SendGraph.videoTee) }
        if graph.sendsAudio { tees[.audio] = pipeline.element(named: SendGraph.audioTee) }
        self.tees = tees
        // What the tees carry is fixed when the pipeline starts, and every peer's branch takes it
        // as it is. Otherwise each branch linked asks upstream to renegotiate, and a sender
        // meeting several peers at once on a busy machine now and then lost its audio source
        // for good (not-negotiated, in the source's thread, where renegotiation runs).
        for tee in tees.values { tee.staticPad("sink")?.dropReconfigureRequests() }
        // One shared encoder: each peer's request for a keyframe (joining, or a PLI) would cost
        // every peer one. Twice a second at most, a crowd of joiners shares one.
        if configuration.encode == .once, let sink = tees[.video]?.staticPad("sink") {
            let encoded = BufferCounter()
            sink.coalesceKeyframeRequests(every: Self.keyframeInterval, counting: encoded)
            encodedVideo = encoded
        } else {
            encodedVideo = nil
        }
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
        let bus = pipeline.subscribeToBus { post(.bus($0)) }
        self.bus = bus
        for tee in tees.values { tee.staticPad("sink")?.onEOS { post(.sourceEnded) } }
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
    func startFiles() {
        guard !waitingFiles.isEmpty else { return }
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

    /// Stops the pipeline and its bus handler. Peers' bins must be gone first.
    func stop() async {
        let pipeline = pipeline
        _ = await GStreamer.blocking { pipeline.setState(.null) }
        bus = nil
    }
}

