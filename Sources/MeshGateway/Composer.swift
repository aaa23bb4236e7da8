import GStreamer
import Logging
import MeshProtocol

/// `--compose`: what the gateway receives, as one picture (a grid of labelled tiles that
/// re-lays itself as participants come and go) and one audio mix, encoded once into a file
/// or to an RTMP server. Its output is a bin `compose` in the pipeline; each participant's
/// decoding is a bin of its own there (`tile…`), fed from the peer's bin. Used only from
/// the gateway's loop.
final class Composer {
    static let binName = "compose"
    static let tilePrefix = "tile"

    let target: ComposeTarget
    private let bin: Bin
    private let compositor: Element
    private let mixer: Element
    private let pipeline: Pipeline
    private let size: (width: Int, height: Int)
    private let fps: Int
    private let logger: Logger
    private var tiles: [Tile] = []
    private var nextPart = 1
    /// Finished or abandoned: nothing more goes in.
    private var closed = false
    /// Buffers that reached the sink: none yet means the destination never opened.
    let delivered = BufferCounter()
    /// Says when end-of-stream reached the sink.
    private let written = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// One participant's place in the picture and the mix.
    private final class Tile {
        let id: PeerID
        var name: String
        var video: Part?
        var audio: Part?
        /// Whether `video` is the peer's own, not a placeholder.
        var showsVideo = false

        init(id: PeerID, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// A bin that decodes one stream (or makes a placeholder) into the compositor or mixer.
    private struct Part {
        let bin: Bin
        /// The peer's pad that feeds it; nil for a placeholder.
        let feed: Pad?
        /// The compose bin's pad it links to, and the compositor's or mixer's pad behind it.
        let entry: Pad
        let target: Pad
        let aggregator: Element
    }

    /// Builds the output and adds it to the pipeline, which must not play yet: it plays with it.
    static func make(_ target: ComposeTarget, width: Int, height: Int, fps: Int, bitrate: Int, pipeline: Pipeline, logger: Logger) async throws(GatewayError) -> Composer {
        // The aggregators wait this long for a late tile before they go on without it:
        // what a peer sends arrives after its jitter buffer, some 200 ms behind.
        let latency = 500_000_000
        let raw = "video/x-raw,width=\(width),height=\(height),framerate=\(fps)/1"
        let audio = "audio/x-raw,rate=48000,channels=2"
        let description = [
            "compositor name=video background=black latency=\(latency) ignore-inactive-pads=true ! \(raw),format=I420,pixel-aspect-ratio=1/1 "
                + "! queue name=video_out max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 "
                + "! x264enc tune=zerolatency speed-preset=veryfast bitrate=\(bitrate) key-int-max=\(2 * fps) ! h264parse ! queue ! mux.",
            // The background keeps the picture going while nobody is in it.
            "videotestsrc is-live=true pattern=black ! \(raw) ! video.",
            "audiomixer name=audio latency=\(latency) ignore-inactive-pads=true ! audioconvert ! audioresample ! \(audio) "
                + "! queue name=audio_out max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! \(target.audioEncoder) ! queue ! mux.",
            "audiotestsrc is-live=true wave=silence ! \(audio) ! audio.",
            target.output,
        ].joined(separator: "  ")
        do {
            let bin = try await GStreamer.blocking { () throws -> Bin in try Bin.parse(description, name: binName) }
            guard let compositor = bin.element(named: "video"), let mixer = bin.element(named: "audio"),
                  let sink = bin.element(named: "sink")?.staticPad("sink") else {
                throw GatewayError("the composition's pipeline lacks an element")
            }
            let composer = Composer(target: target, bin: bin, compositor: compositor, mixer: mixer, pipeline: pipeline,
                                    width: width, height: height, fps: fps, logger: logger)
            sink.countBuffers(into: composer.delivered)
            let written = composer.written.continuation
            sink.onEOS { written.yield() }
            await GStreamer.blocking { pipeline.add(bin) }
            return composer
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError("cannot compose to \(target.shown): \(error)")
        }
    }

    private init(target: ComposeTarget, bin: Bin, compositor: Element, mixer: Element, pipeline: Pipeline,
                 width: Int, height: Int, fps: Int, logger: Logger) {
        self.target = target
        self.bin = bin
        self.compositor = compositor
        self.mixer = mixer
        self.pipeline = pipeline
        size = (width, height)
        self.fps = fps
        self.logger = logger
    }

    // MARK: - Tiles

    /// Shows what a peer sends: `feed` is a pad of the peer's bin carrying its RTP of `codec`. The
    /// tile is labelled with the id until ``update(participants:)`` gives the name.
    func attach(_ feed: Pad, codec: ReceivedCodec, of id: PeerID) async {
        guard !closed else { return }
        let tile = tile(id, name: id)
        let decode = "queue name=in max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 leaky=downstream ! \(codec.depayloader) ! decodebin"
        do {
            switch codec.kind {
            case .video:
                // Taken off the tile before the await: a bus error may look for it meanwhile.
                if let placeholder = tile.video {
                    tile.video = nil
                    await remove(placeholder)
                }
                tile.showsVideo = true
                tile.video = try await part(
                    "\(decode) ! videoconvert ! videoscale ! capsfilter name=size caps=\(cellCaps(for: tile)) "
                        + "! textoverlay name=label valignment=bottom halignment=left shaded-background=true font-desc=\"Sans 14\"",
                    feed: feed, into: compositor, label: tile.name)
            case .audio:
                if let old = tile.audio {
                    tile.audio = nil
                    await remove(old)
                }
                tile.audio = try await part("\(decode) ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2",
                                            feed: feed, into: mixer, label: nil)
            }
        } catch {
            if codec.kind == .video { tile.showsVideo = false }
            logger.warning("cannot compose a peer's \(codec.kind.rawValue)", metadata: ["peer": "\(id)", "reason": "\(error)"])
        }
        layOut()
    }

    /// Gives every participant a tile, in the order given: one that sends no video gets a
    /// placeholder with its name; names that changed are relabelled. The cell of a peer that
    /// sends video stays black until its video comes.
    func update(participants: [(id: PeerID, name: String, sendsVideo: Bool)]) async {
        guard !closed else { return }
        var changed = false
        for participant in participants {
            if let tile = tiles.first(where: { $0.id == participant.id }) {
                if tile.name != participant.name {
                    tile.name = participant.name
                    tile.video?.bin.element(named: "label")?.set("text", text: TileLabel.markup(participant.name))
                }
                continue
            }
            let tile = tile(participant.id, name: participant.name)
            changed = true
            guard !participant.sendsVideo else { continue }
            do {
                tile.video = try await part(
                    "videotestsrc is-live=true pattern=solid-color foreground-color=0xff303030 "
                        + "! capsfilter name=size caps=\(cellCaps(for: tile)) "
                        + "! textoverlay name=label valignment=center halignment=center font-desc=\"Sans 24\"",
                    feed: nil, into: compositor, label: tile.name)
            } catch {
                logger.warning("cannot show a placeholder for a peer", metadata: ["peer": "\(participant.id)", "reason": "\(error)"])
            }
        }
        if changed { layOut() }
    }

    /// Takes a peer out of the picture and the mix, before its bin goes.
    func remove(_ id: PeerID) async {
        guard let index = tiles.firstIndex(where: { $0.id == id }) else { return }
        let tile = tiles.remove(at: index)
        for part in [tile.video, tile.audio].compactMap({ $0 }) { await remove(part) }
        layOut()
    }

    /// The tile of `id`, made (last in the grid) when it has none.
    private func tile(_ id: PeerID, name: String) -> Tile {
        if let tile = tiles.first(where: { $0.id == id }) { return tile }
        let tile = Tile(id: id, name: name)
        tiles.append(tile)
        return tile
    }

    /// The caps a tile's picture is made in: its cell (videoscale keeps the aspect with
    /// borders), in the compositor's format so that only tile-sized pictures are converted;
    /// a placeholder makes its own frames at the composition's rate.
    private func cellCaps(for tile: Tile, in cells: [GridLayout.Cell]? = nil) -> String {
        let cells = cells ?? GridLayout.cells(count: tiles.count, width: size.width, height: size.height)
        let cell = tiles.firstIndex { $0 === tile }.map { cells[$0] } ?? GridLayout.Cell(x: 0, y: 0, width: size.width, height: size.height)
        return "video/x-raw,format=I420,width=\(cell.width),height=\(cell.height),pixel-aspect-ratio=1/1"
            + (tile.showsVideo ? "" : ",framerate=\(fps)/1")
    }

    /// Puts each tile in its cell.
    private func layOut() {
        let cells = GridLayout.cells(count: tiles.count, width: size.width, height: size.height)
        for (tile, cell) in zip(tiles, cells) {
            guard let video = tile.video else { continue }
            // The pad scales what still comes at the old size until the new caps reach it.
            for (property, value) in [("xpos", cell.x), ("ypos", cell.y), ("width", cell.width), ("height", cell.height)] {
                video.target.set(property, value)
            }
            video.bin.element(named: "size")?.set("caps", cellCaps(for: tile, in: cells))
        }
    }

    /// Builds a part, links it to a new pad of `aggregator` and to `feed`, and plays it.
    private func part(_ description: String, feed: Pad?, into aggregator: Element, label: String?) async throws -> Part {
        let name = "\(Self.tilePrefix)\(nextPart)"
        nextPart += 1
        // Pads ghosted by hand: the label's text pad must stay unlinked, or it waits for text.
        let (bin, pipeline, compose) = (try await GStreamer.blocking { () throws -> Bin in
            try Bin.parse(description + " ! queue name=out max-size-buffers=0 max-size-bytes=0 max-size-time=200000000 leaky=downstream",
                          name: name, ghostingUnlinkedPads: false)
        }, pipeline, self.bin)
        if let label { bin.element(named: "label")?.set("text", text: TileLabel.markup(label)) }
        guard let target = aggregator.requestPad("sink_%u"), let out = bin.element(named: "out")?.staticPad("src") else {
            throw GatewayError("the composition takes no more streams")
        }
        let source = try bin.addGhostPad(named: "src", for: out)
        if feed != nil, let first = bin.element(named: "in")?.staticPad("sink") { try bin.addGhostPad(named: "sink", for: first) }
        if aggregator === compositor { target.set("sizing-policy", "keep-aspect-ratio") }
        let entry = try compose.addGhostPad(named: name, for: target)
        await GStreamer.blocking { pipeline.add(bin) }
        try source.link(entry)
        await GStreamer.blocking { bin.syncStateWithParent() }
        // Fed only once it plays: a buffer into a stopped bin is refused as flushing, and the
        // peer's tee would pass that refusal up and stop the peer's stream for good.
        if let feed, let sink = bin.staticPad("sink") { try feed.link(sink) }
        logger.debug("composition part added", metadata: ["part": "\(name)", "pad": "\(target.name)", "fed": "\(feed != nil)"])
        return Part(bin: bin, feed: feed, entry: entry, target: target, aggregator: aggregator)
    }

    private func remove(_ part: Part) async {
        await part.feed?.unlinkWhenIdle()
        let (pipeline, compose) = (pipeline, bin)
        await GStreamer.blocking {
            part.bin.setState(.null)
            pipeline.remove(part.bin)
            compose.removePad(part.entry)
            part.aggregator.releaseRequestPad(part.target)
        }
    }

    // MARK: - The end

    /// Ends the picture and the mix and waits (at most 5 s) until the destination has
    /// them all (a file is then finalised), then takes the output out of the pipeline.
    func finish() async {
        guard !closed else { return }
        await removeTiles()
        for name in ["video_out", "audio_out"] {
            guard let pad = bin.element(named: name)?.staticPad("sink") else { continue }
            pad.dropBuffers()
            pad.sendEOS()
        }
        await withTaskGroup(of: Void.self) { [written] group in
            group.addTask { for await _ in written.stream { return } }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        written.continuation.finish()
        await abandon()
    }

    /// Takes the output out of the pipeline at once (after an error in it).
    func abandon() async {
        closed = true
        await removeTiles()
        let (bin, pipeline) = (bin, pipeline)
        await GStreamer.blocking {
            bin.setState(.null)
            pipeline.remove(bin)
        }
    }

    private func removeTiles() async {
        let all = tiles
        tiles.removeAll()
        for tile in all {
            for part in [tile.video, tile.audio].compactMap({ $0 }) { await remove(part) }
        }
    }

    /// An error in a tile (a stream that does not decode): that stream leaves the picture or
    /// the mix, the rest goes on. False when the error is not a tile's: it is the output's.
    func dropPart(inPath path: String) async -> Bool {
        let parts = path.split(separator: "/")
        guard parts.count >= 2, parts[1].hasPrefix(Self.tilePrefix) else { return false }
        for tile in tiles {
            if let video = tile.video, video.bin.name == parts[1] {
                tile.video = nil
                tile.showsVideo = false
                await remove(video)
            } else if let audio = tile.audio, audio.bin.name == parts[1] {
                tile.audio = nil
                await remove(audio)
            }
        }
        return true
    }

    /// Whether a bus message from `path` is the composition's.
    static func owns(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard parts.count >= 2 else { return false }
        return parts[1] == binName || parts[1].hasPrefix(tilePrefix)
    }
}
