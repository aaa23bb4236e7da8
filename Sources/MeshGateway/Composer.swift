import GStreamer
import Logging
import MeshProtocol

/// What the gateway receives, as one picture (a grid of labelled tiles that re-lays itself
/// as participants come and go) and sound, in one of two ways:
/// - `--compose`: one mix of everyone, encoded once with the picture into a file or to an
///   RTMP server, by a bin `compose` in the pipeline;
/// - a hub room's hub: the picture is the video the gateway sends everyone (its compositor
///   is the send graph's source, ``hubVideo(width:height:fps:)``), and each participant is
///   sent a mix of everyone but itself (mix-minus-one), encoded for it alone, in a bin `mixN`.
/// Each participant's stream is decoded in a bin of its own (`tileN_in`), fed from the
/// peer's bin, and reaches its tile (`tileN`) through an inter sink and source.
/// Used only from the gateway's loop.
final class Composer {
    static let binName = "compose"
    static let tilePrefix = "tile"
    static let mixPrefix = "mix"
    /// The hub's compositor, in the send graph.
    static let hubCompositor = "hub_video"

    /// Where the composition goes.
    private enum Output {
        /// Encoded with a mix of everyone into `target`, by the bin `compose`.
        case encoded(ComposeTarget, bin: Bin, mixer: Element)
        /// Sent by the hub: the picture is the send graph's video, the sound is each peer's own mix.
        case hub
    }

    private let output: Output
    private let compositor: Element
    private let pipeline: Pipeline
    private let size: (width: Int, height: Int)
    private let fps: Int
    private let logger: Logger
    private var tiles: [Tile] = []
    private var mixes: [Mix] = []
    private var nextPart = 1
    /// Inter channels are the process's: each composer's have names of their own.
    private let channelPrefix = "meshgate-\(UInt32.random(in: .min ... .max))"
    /// Finished or abandoned: nothing more goes in.
    private var closed = false
    /// Buffers that reached the sink: none yet means the destination never opened. The first
    /// is logged: from then on the file or stream has the call in it.
    let delivered: BufferCounter
    /// Says when end-of-stream reached the sink.
    private let written = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// Where `--compose` writes; nil for a hub.
    var target: ComposeTarget? {
        if case .encoded(let target, _, _) = output { target } else { nil }
    }

    /// One participant's place in the picture and the mix.
    private final class Tile {
        let id: PeerID
        var name: String
        var video: Part?
        var audio: Part?

        init(id: PeerID, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// A bin that decodes one stream (or makes a placeholder) into the compositor or mixer,
    /// or (a hub's audio) into a tee `split` that feeds the other participants' mixes.
    private struct Part {
        let bin: Bin
        /// What decodes the peer's stream, in a bin of its own that the peer's pad `feed`
        /// feeds; nil for a placeholder. It hands the stream to `bin` through an inter sink
        /// and source (a channel): nothing that happens to the picture or a mix (a pad that
        /// refuses, a flow that fails) travels back into the peer's receiving, which a peer
        /// feeding a hub's mixes, sent to every other peer, would otherwise be exposed to.
        let input: (bin: Bin, feed: Pad)?
        /// The compositor's or mixer's pad it links to, through `entry`, a pad of the compose
        /// bin (the same pad when the compositor is the hub's, in the pipeline itself).
        let link: (entry: Pad, target: Pad, aggregator: Element)?
    }

    /// A hub's mix for one participant: everyone's audio but its own, Opus-encoded into the
    /// tee its sending branch takes from.
    private final class Mix {
        let id: PeerID
        let bin: Bin
        let tee: Element
        var inputs: [Input] = []

        init(id: PeerID, bin: Bin, tee: Element) {
            self.id = id
            self.bin = bin
            self.tee = tee
        }
    }

    /// One participant's audio into another's mix: a pad of its `split` tee, through pads of
    /// the two bins, into a queue in the mix and a pad of its mixer.
    private struct Input {
        let from: Bin
        let splitPad: Pad
        let exit: Pad
        let entry: Pad
        let queue: Element
        let mixerPad: Pad
    }

    /// The aggregators wait this long for a late tile before they go on without it: what a
    /// peer sends arrives after its jitter buffer, some 200 ms behind. Their inputs are all
    /// live sources that never stop (a tile's inter source, a background, a silence), so
    /// none is left out as inactive: an aggregator that times out before its first data,
    /// every input left out, ends its stream at once (1 RTMP stream in 4 had no video).
    static let latency = 500_000_000
    static let mixedAudio = "audio/x-raw,rate=48000,channels=2"

    /// Builds the output and adds it to the pipeline, which must not play yet: it plays with it.
    static func make(_ target: ComposeTarget, width: Int, height: Int, fps: Int, bitrate: Int, pipeline: Pipeline, logger: Logger) async throws(GatewayError) -> Composer {
        let raw = "video/x-raw,width=\(width),height=\(height),framerate=\(fps)/1"
        let description = [
            "compositor name=video background=black latency=\(latency) ! \(raw),format=I420,pixel-aspect-ratio=1/1 "
                + "! queue name=video_out max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 "
                + "! x264enc tune=zerolatency speed-preset=veryfast bitrate=\(bitrate) key-int-max=\(2 * fps) ! h264parse ! queue ! mux.",
            // The background keeps the picture going while nobody is in it.
            "videotestsrc is-live=true pattern=black ! \(raw) ! video.",
            "audiomixer name=audio latency=\(latency) ! audioconvert ! audioresample ! \(mixedAudio) "
                + "! queue name=audio_out max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! \(target.audioEncoder) ! queue ! mux.",
            "audiotestsrc is-live=true wave=silence ! \(mixedAudio) ! audio.",
            target.output,
        ].joined(separator: "  ")
        do {
            let bin = try await GStreamer.blocking { () throws -> Bin in try Bin.parse(description, name: binName) }
            guard let compositor = bin.element(named: "video"), let mixer = bin.element(named: "audio"),
                  let sink = bin.element(named: "sink")?.staticPad("sink") else {
                throw GatewayError("the composition's pipeline lacks an element")
            }
            let composer = Composer(output: .encoded(target, bin: bin, mixer: mixer), compositor: compositor, pipeline: pipeline,
                                    width: width, height: height, fps: fps, logger: logger)
            // A live compositor can give its first time twice: an encoder given two frames at
            // one time stamps the second with none, and MP4 then refuses the whole stream.
            for name in ["video_out", "audio_out"] { bin.element(named: name)?.staticPad("sink")?.keepTimeMoving() }
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

    /// The hub's picture as a source of the send graph: a compositor, kept going by a black
    /// background while nobody is in it.
    static func hubVideo(width: Int, height: Int, fps: Int) -> (source: String, background: String) {
        let raw = "video/x-raw,format=I420,width=\(width),height=\(height),framerate=\(fps)/1,pixel-aspect-ratio=1/1"
        return ("compositor name=\(hubCompositor) background=black latency=\(latency) ! \(raw)",
                "videotestsrc is-live=true pattern=black ! \(raw) ! \(hubCompositor).")
    }

    /// A hub's composer, on the compositor of the send graph in `pipeline`.
    static func hub(in pipeline: Pipeline, width: Int, height: Int, fps: Int, logger: Logger) throws(GatewayError) -> Composer {
        guard let compositor = pipeline.element(named: hubCompositor) else { throw GatewayError("the hub's pipeline has no compositor") }
        // As for a composition: its encoders (x264enc) need every frame later than the last.
        compositor.staticPad("src")?.keepTimeMoving()
        return Composer(output: .hub, compositor: compositor, pipeline: pipeline, width: width, height: height, fps: fps, logger: logger)
    }

    private init(output: Output, compositor: Element, pipeline: Pipeline, width: Int, height: Int, fps: Int, logger: Logger) {
        self.output = output
        self.compositor = compositor
        self.pipeline = pipeline
        size = (width, height)
        self.fps = fps
        self.logger = logger
        let shown = if case .encoded(let target, _, _) = output { target.shown } else { "" }
        delivered = BufferCounter { logger.info("composition writing", metadata: ["to": "\(shown)"]) }
    }

    // MARK: - Tiles

    /// Shows what a peer sends: `feed` is a pad of the peer's bin carrying its RTP of `codec`. The
    /// tile is labelled with the id until ``update(participants:)`` gives the name.
    func attach(_ feed: Pad, codec: ReceivedCodec, of id: PeerID) async {
        guard !closed else { return }
        let tile = tile(id, name: id)
        let channel = "\(channelPrefix)-\(nextPart)"
        let decode = "queue name=in max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 leaky=downstream ! \(codec.depayloader) ! \(codec.decoder)"
        let input = (feed: feed, description: codec.kind == .video
            ? "\(decode) ! videoconvert ! intervideosink channel=\(channel) sync=false async=false"
            : "\(decode) ! audioconvert ! interaudiosink channel=\(channel) sync=false async=false")
        do {
            switch codec.kind {
            case .video:
                // Taken off the tile before the await: a bus error may look for it meanwhile.
                if let placeholder = tile.video {
                    tile.video = nil
                    await remove(placeholder)
                }
                // The source repeats the last picture, and after a second without one shows black.
                tile.video = try await part(
                    "intervideosrc channel=\(channel) ! videoconvert ! videoscale ! capsfilter name=size caps=\(cellCaps(for: tile)) "
                        + "! textoverlay name=label valignment=bottom halignment=left shaded-background=true font-desc=\"Sans 14\"",
                    input: input, into: compositor, label: tile.name)
            case .audio:
                if let old = tile.audio {
                    tile.audio = nil
                    await remove(old)
                }
                // The source plays silence while nothing comes.
                let audio = "interaudiosrc channel=\(channel) ! audioconvert ! audioresample ! \(Self.mixedAudio)"
                switch output {
                case .encoded(_, _, let mixer):
                    tile.audio = try await part(audio, input: input, into: mixer, label: nil)
                case .hub:
                    let part = try await part(audio + " ! tee name=split allow-not-linked=true", input: input, into: nil, label: nil)
                    tile.audio = part
                    for mix in mixes where mix.id != id { try await connect(part, to: mix) }
                }
            }
        } catch {
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
                    input: nil, into: compositor, label: tile.name)
            } catch {
                logger.warning("cannot show a placeholder for a peer", metadata: ["peer": "\(participant.id)", "reason": "\(error)"])
            }
        }
        // A peer's media can come before the list that places it: the grid follows the list.
        let order = Dictionary(participants.enumerated().map { ($1.id, $0) }) { first, _ in first }
        let placed = tiles.enumerated().sorted { (order[$0.element.id] ?? .max, $0.offset) < (order[$1.element.id] ?? .max, $1.offset) }.map(\.element)
        if placed.map(\.id) != tiles.map(\.id) {
            tiles = placed
            changed = true
        }
        if changed { layOut() }
    }

    /// Takes a peer out of the picture and the mixes, before its bin goes.
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
    /// borders), in the compositor's format so that only tile-sized pictures are converted,
    /// at the composition's rate (the tile's source makes its frames at the rate asked).
    private func cellCaps(for tile: Tile, in cells: [GridLayout.Cell]? = nil) -> String {
        let cells = cells ?? GridLayout.cells(count: tiles.count, width: size.width, height: size.height)
        let cell = tiles.firstIndex { $0 === tile }.map { cells[$0] } ?? GridLayout.Cell(x: 0, y: 0, width: size.width, height: size.height)
        return "video/x-raw,format=I420,width=\(cell.width),height=\(cell.height),pixel-aspect-ratio=1/1,framerate=\(fps)/1"
    }

    /// Puts each tile in its cell.
    private func layOut() {
        let cells = GridLayout.cells(count: tiles.count, width: size.width, height: size.height)
        for (tile, cell) in zip(tiles, cells) {
            guard let video = tile.video, let target = video.link?.target else { continue }
            // The pad scales what still comes at the old size until the new caps reach it.
            for (property, value) in [("xpos", cell.x), ("ypos", cell.y), ("width", cell.width), ("height", cell.height)] {
                target.set(property, value)
            }
            video.bin.element(named: "size")?.set("caps", cellCaps(for: tile, in: cells))
        }
    }

    /// Builds a part, links it to a new pad of `aggregator` (if any), and plays it; then its
    /// input (if any), fed by the peer's pad.
    private func part(_ description: String, input: (feed: Pad, description: String)?, into aggregator: Element?, label: String?) async throws -> Part {
        let name = "\(Self.tilePrefix)\(nextPart)"
        nextPart += 1
        // Pads ghosted by hand: the label's text pad must stay unlinked, or it waits for text.
        let tail = aggregator == nil ? "" : " ! queue name=out max-size-buffers=0 max-size-bytes=0 max-size-time=200000000 leaky=downstream"
        let (bin, pipeline) = (try await GStreamer.blocking { () throws -> Bin in
            try Bin.parse(description + tail, name: name, ghostingUnlinkedPads: false)
        }, pipeline)
        if let label { bin.element(named: "label")?.set("text", text: TileLabel.markup(label)) }
        var link: (entry: Pad, target: Pad, aggregator: Element)?
        if let aggregator {
            guard let target = aggregator.requestPad("sink_%u"), let out = bin.element(named: "out")?.staticPad("src") else {
                throw GatewayError("the composition takes no more streams")
            }
            let source = try bin.addGhostPad(named: "src", for: out)
            if aggregator === compositor { target.set("sizing-policy", "keep-aspect-ratio") }
            let entry = if case .encoded(_, let compose, _) = output { try compose.addGhostPad(named: name, for: target) } else { target }
            link = (entry, target, aggregator)
            await GStreamer.blocking { pipeline.add(bin) }
            try source.link(entry)
        } else {
            await GStreamer.blocking { pipeline.add(bin) }
        }
        await GStreamer.blocking { bin.syncStateWithParent() }
        guard let input else {
            logger.debug("composition part added", metadata: ["part": "\(name)"])
            return Part(bin: bin, input: nil, link: link)
        }
        let decoding = try await GStreamer.blocking { () throws -> Bin in
            let decoding = try Bin.parse(input.description, name: "\(name)_in", ghostingUnlinkedPads: false)
            guard let first = decoding.element(named: "in")?.staticPad("sink") else { throw GatewayError("a composition part lacks its input") }
            try decoding.addGhostPad(named: "sink", for: first)
            pipeline.add(decoding)
            decoding.syncStateWithParent()
            return decoding
        }
        // Fed only once it plays: a buffer into a stopped bin is refused as flushing, and the
        // peer's tee would pass that refusal up and stop the peer's stream for good.
        if let sink = decoding.staticPad("sink") { try input.feed.link(sink) }
        logger.debug("composition part added", metadata: ["part": "\(name)", "fed": "true"])
        return Part(bin: bin, input: (decoding, input.feed), link: link)
    }

    private func remove(_ part: Part) async {
        await part.input?.feed.unlinkWhenIdle()
        for mix in mixes {
            for input in mix.inputs where input.from === part.bin { await disconnect(input, from: mix) }
        }
        let (pipeline, output) = (pipeline, output)
        await GStreamer.blocking {
            for bin in [part.input?.bin, part.bin].compactMap({ $0 }) {
                bin.setState(.null)
                pipeline.remove(bin)
            }
            guard let link = part.link else { return }
            if case .encoded(_, let compose, _) = output { compose.removePad(link.entry) }
            link.aggregator.releaseRequestPad(link.target)
        }
    }

    // MARK: - A hub's mixes

    /// The tee of `id`'s own mix (everyone's audio but its own), made when it has none: a
    /// hub's sending branch of audio to that peer takes from it.
    func mix(for id: PeerID) async throws -> Element {
        if let mix = mixes.first(where: { $0.id == id }) { return mix.tee }
        let name = "\(Self.mixPrefix)\(nextPart)"
        nextPart += 1
        let description = "audiomixer name=mixer latency=\(Self.latency) ! audioconvert ! audioresample "
            + "! audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2 ! queue max-size-buffers=5 max-size-bytes=0 max-size-time=0 leaky=downstream "
            + "! \(Opus.encoder(name: SendGraph.audioEncoder)) ! queue name=out max-size-buffers=0 max-size-bytes=0 max-size-time=200000000 leaky=downstream  "
            + "audiotestsrc is-live=true wave=silence ! \(Self.mixedAudio) ! mixer."
        let pipeline = pipeline
        let (bin, tee) = try await GStreamer.blocking { () throws -> (Bin, Element) in
            let bin = try Bin.parse(description, name: name, ghostingUnlinkedPads: false)
            let tee = try Element.make("tee", name: name + "_tee")
            tee.set("allow-not-linked", true)
            guard let out = bin.element(named: "out")?.staticPad("src"), let sink = tee.staticPad("sink") else {
                throw GatewayError("a mix lacks its output")
            }
            let source = try bin.addGhostPad(named: "src", for: out)
            pipeline.add(bin)
            pipeline.add(tee)
            try source.link(sink)
            tee.syncStateWithParent()
            bin.syncStateWithParent()
            return (bin, tee)
        }
        let mix = Mix(id: id, bin: bin, tee: tee)
        mixes.append(mix)
        for tile in tiles where tile.id != id {
            if let audio = tile.audio { try await connect(audio, to: mix) }
        }
        return tee
    }

    /// Drops `id`'s mix, once the peer's branch no longer takes from it.
    func removeMix(for id: PeerID) async {
        guard let index = mixes.firstIndex(where: { $0.id == id }) else { return }
        let mix = mixes.remove(at: index)
        for input in mix.inputs { await disconnect(input, from: mix) }
        let (pipeline, bin, tee) = (pipeline, mix.bin, mix.tee)
        await GStreamer.blocking {
            bin.setState(.null)
            tee.setState(.null)
            pipeline.remove(bin)
            pipeline.remove(tee)
        }
    }

    /// Feeds a participant's decoded audio (`part`, a hub's) into another's mix.
    private func connect(_ part: Part, to mix: Mix) async throws {
        let bin = mix.bin
        let input = try await GStreamer.blocking { () throws -> Input in
            let queue = try Element.make("queue")
            queue.set("leaky", "downstream")
            queue.set("max-size-time", 200_000_000)
            queue.set("max-size-buffers", 0)
            queue.set("max-size-bytes", 0)
            guard let split = part.bin.element(named: "split"), let splitPad = split.requestPad("src_%u"),
                  let mixerPad = bin.element(named: "mixer")?.requestPad("sink_%u"),
                  let queueIn = queue.staticPad("sink"), let queueOut = queue.staticPad("src") else {
                throw GatewayError("a mix takes no more streams")
            }
            bin.add(queue)
            try queueOut.link(mixerPad)
            queue.syncStateWithParent()
            let entry = try bin.addGhostPad(named: "from_\(part.bin.name)", for: queueIn)
            let exit = try part.bin.addGhostPad(named: "to_\(bin.name)", for: splitPad)
            try exit.link(entry)
            return Input(from: part.bin, splitPad: splitPad, exit: exit, entry: entry, queue: queue, mixerPad: mixerPad)
        }
        mix.inputs.append(input)
    }

    private func disconnect(_ input: Input, from mix: Mix) async {
        mix.inputs.removeAll { $0.exit === input.exit }
        await input.exit.unlinkWhenIdle()
        let bin = mix.bin
        await GStreamer.blocking {
            input.queue.setState(.null)
            bin.remove(input.queue)
            bin.removePad(input.entry)
            bin.element(named: "mixer")?.releaseRequestPad(input.mixerPad)
            input.from.removePad(input.exit)
            input.from.element(named: "split")?.releaseRequestPad(input.splitPad)
        }
    }

    // MARK: - The end

    /// Ends the picture and the mix and waits (at most 5 s) until the destination has
    /// them all (a file is then finalised), then takes the output out of the pipeline. A
    /// hub's parts just go.
    func finish() async {
        guard !closed else { return }
        await removeTiles()
        guard case .encoded(_, let bin, _) = output else {
            await abandon()
            return
        }
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
        for mix in mixes { await removeMix(for: mix.id) }
        guard case .encoded(_, let bin, _) = output else { return }
        let pipeline = pipeline
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
            if let video = tile.video, [video.bin.name, video.input?.bin.name].contains(String(parts[1])) {
                tile.video = nil
                await remove(video)
            } else if let audio = tile.audio, [audio.bin.name, audio.input?.bin.name].contains(String(parts[1])) {
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
        return parts[1] == binName || parts[1].hasPrefix(tilePrefix) || parts[1].hasPrefix(mixPrefix)
    }
}
