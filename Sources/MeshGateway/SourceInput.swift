import GStreamer
import Logging

/// A file, network or camera source in the pipeline: the element that opens it, linked to
/// the graph's entry queues as its streams appear. A live source that drops (an error, its
/// end, a stall, a camera unplugged) is closed and opened again with backoff while peers
/// stay connected; what follows its entries keeps running, so peers see media again when
/// it returns. Used only from the gateway's loop.
final class SourceInput {
    let input: SendGraph.Input
    /// What reaches the entries, across every opening: its count says whether the source
    /// delivers, and for encoded video how often keyframes come.
    let watches: [MediaKind: StreamWatch]
    private let pipeline: Pipeline
    private let entries: [MediaKind: Pad]
    private let latency: Int
    private let lost: @Sendable (String) -> Void
    private var element: Element?
    private(set) var health: SourceHealth

    var name: String { input.name }
    var isLive: Bool { input.source.isLive }

    /// `lost` is called, from any thread, when the source ends (live sources only;
    /// a file's end reaches the tees and ends the call).
    init(_ input: SendGraph.Input, pipeline: Pipeline, latency: Int, lost: @escaping @Sendable (String) -> Void) throws(GatewayError) {
        self.input = input
        self.pipeline = pipeline
        self.latency = latency
        self.lost = lost
        health = SourceHealth(now: .now)
        var entries: [MediaKind: Pad] = [:]
        var watches: [MediaKind: StreamWatch] = [:]
        for kind in input.kinds {
            guard let pad = pipeline.element(named: SendGraph.entry(kind, file: !input.source.isLive))?.staticPad("sink") else {
                throw GatewayError("the pipeline has no entry for \(input.source.shown)'s \(kind.rawValue)")
            }
            let watch = StreamWatch()
            pad.watch(into: watch)
            entries[kind] = pad
            watches[kind] = watch
        }
        self.entries = entries
        self.watches = watches
    }

    /// Makes the source's element and adds it to the pipeline; it plays with the pipeline, or
    /// at once when the pipeline plays already.
    func open() async throws {
        let (input, latency, pipeline) = (input, latency, pipeline)
        let element = try await GStreamer.blocking { () throws -> Element in
            try input.source.makeElement(name: input.name, undecoded: input.undecoded, latency: latency)
        }
        let (entries, lost, isLive) = (entries, lost, isLive)
        await GStreamer.blocking { pipeline.add(element) }
        URISource.onStreams(of: element) { pad in
            guard let format = pad.caps?.name, let kind = MediaKind(capsName: format),
                  let entry = entries[kind], entry.peer == nil else { return }
            if isLive { pad.replaceEOS { lost("it ended the stream") } }
            do {
                try pad.link(entry)
            } catch {
                lost("its \(kind.rawValue) came back as \(format), which the pipeline built for it does not take")
            }
        }
        self.element = element
        await GStreamer.blocking { element.syncStateWithParent() }
    }

    /// Takes the source's element out of the pipeline (its pads unlink from the entries).
    func close() async {
        guard let element else { return }
        self.element = nil
        let pipeline = pipeline
        await GStreamer.blocking {
            element.setState(.null)
            pipeline.remove(element)
        }
    }

    /// Seeks the source back to its start (a file); a segment seek when it loops.
    func rewind(asSegment: Bool) async {
        guard let element else { return }
        _ = await GStreamer.blocking { asSegment ? element.seekToStartAsSegment(flush: true) : element.seekToStart() }
    }

    /// Buffers that reached the entries so far.
    var buffers: Int { watches.values.map(\.buffers).reduce(0, +) }

    /// Checks that the source still delivers (every second).
    func check(now: ContinuousClock.Instant) -> SourceHealth.Verdict? {
        health.check(buffers: buffers, now: now)
    }

    /// The source dropped: closes it and returns the wait before opening it again, or nil
    /// when it is already down.
    func drop(now: ContinuousClock.Instant) async -> Duration? {
        guard let delay = health.lost(now: now) else { return nil }
        await close()
        return delay
    }

    /// Opens it again after a drop.
    func reopen(now: ContinuousClock.Instant) async throws {
        health.reopening(now: now)
        try await open()
    }
}
