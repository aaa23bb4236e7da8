import GStreamer
import MeshProtocol

/// The GStreamer side of one peer connection, as one unit: a bin `peer<serial>` in the
/// pipeline holding its webrtcbin, the branches that feed it from the shared tees, what
/// it receives, and its recording. Added and removed as a whole; a bus error from inside
/// it is this peer's. Used only from the gateway's loop.
final class PeerMedia {
    /// A tee branch feeding this peer, through a pad of the peer's bin.
    private struct SendBranch {
        let kind: MediaKind
        let tee: Element
        let teePad: Pad
        let bin: Bin
        let webrtcPad: Pad
    }

    /// A stream from the peer, split so that a recording can start and stop while it flows.
    private struct Incoming {
        let kind: MediaKind
        let codec: ReceivedCodec
        /// webrtcbin's pad it comes from: where keyframes are asked for.
        let pad: Pad
        let split: Element
        /// The branch into the recording, while there is one.
        var recording: (bin: Bin, teePad: Pad)?
    }

    let bin: Bin
    let webrtc: WebRTCBin
    private let pipeline: Pipeline
    private var sendBranches: [SendBranch] = []
    private var receiveBranches: [Bin] = []
    private var incoming: [Incoming] = []
    private(set) var recorder: Recorder?
    /// Set once a recording failed: no new one starts for this connection.
    private var recordingStopped = false
    private var countingArrivals = false

    /// Depayloaded video buffers received; the first decodable one is the "first frame" line.
    let received: BufferCounter
    let receivedAudio = BufferCounter()
    /// How far behind the sender's camera the video we receive from this peer is.
    let videoLag = SenderLag()
    /// Every packet that came in from this peer, media or not: see ``Liveness``.
    let arrived = BufferCounter()

    /// The bin's name for the connection `serial`: how a bus message's path names its peer.
    static func binName(serial: Int) -> String { "peer\(serial)" }

    /// The serial of the peer bin a bus message's source (`/pipeline/peer3/…`) is in.
    static func serial(inPath path: String) -> Int? {
        let parts = path.split(separator: "/")
        guard parts.count >= 2, parts[1].hasPrefix("peer") else { return nil }
        return Int(parts[1].dropFirst(4))
    }

    /// Builds the bin and its webrtcbin (on a thread of its own: making a webrtcbin takes a
    /// while) and adds it to the pipeline, stopped; `start()` plays it.
    static func make(serial: Int, configuration: GatewayConfiguration, pipeline: Pipeline, firstFrame: @escaping @Sendable () -> Void) async throws -> PeerMedia {
        let (bin, webrtc) = try await GStreamer.blocking { () throws -> (Bin, WebRTCBin) in
            let bin = Bin(name: binName(serial: serial))
            let webrtc = try WebRTCBin(name: "webrtc")
            if let stun = configuration.stunServer { webrtc.set("stun-server", stun) }
            for turn in configuration.turnServers { try webrtc.addTurnServer(turn) }
            let named = NetworkInterfaces.addresses(of: configuration.iceInterfaces).addresses
            // Without an address, libnice would take every interface: not what was asked.
            if !configuration.iceInterfaces.isEmpty, named.isEmpty, configuration.iceAddresses.isEmpty {
                throw GatewayError("no interface of --ice-interface \(configuration.iceInterfaces.joined(separator: ", ")) has an address now")
            }
            try webrtc.useLocalAddresses(configuration.iceAddresses + named)
            if let ports = configuration.icePorts { webrtc.setPortRange(min: ports.lowerBound, max: ports.upperBound) }
            webrtc.set("ice-transport-policy", configuration.iceTransport.rawValue)
            webrtc.useTCP(configuration.iceTCP)
            bin.add(webrtc)
            return (bin, webrtc)
        }
        return PeerMedia(bin: bin, webrtc: webrtc, pipeline: pipeline, firstFrame: firstFrame)
    }

    private init(bin: Bin, webrtc: WebRTCBin, pipeline: Pipeline, firstFrame: @escaping @Sendable () -> Void) {
        self.bin = bin
        self.webrtc = webrtc
        self.pipeline = pipeline
        received = BufferCounter(onFirst: firstFrame)
        pipeline.add(bin)
    }

    /// Plays the bin before any branch links to it: a webrtcbin still in NULL answers the
    /// first buffers with FLUSHING, which stops the branch's queue for good and, through the
    /// tee, the shared encoder and the source for every peer.
    func start() async {
        // Starting a webrtcbin starts its threads: not on the loop's.
        let bin = bin
        await GStreamer.blocking { bin.syncStateWithParent() }
    }

    /// Feeds this peer from `tee`: leaky queue, the sender's encoder when the tee carries raw
    /// media (`--encode per-peer`), its payloader, webrtcbin. `capsChanged` is called (on a
    /// streaming thread) when the webrtcbin pad gets caps: then the branch is ready to offer.
    func attach(_ sender: MediaPlan.Sender, from tee: Element, capsChanged: @escaping @Sendable () -> Void) async throws {
        // Raw frames are big: a peer whose encoder falls behind skips frames rather than queue them.
        let queue = "queue leaky=downstream max-size-buffers=\(sender.encoder == nil ? 120 : 3) max-size-bytes=0 max-size-time=0"
        let description = [queue, sender.encoder, sender.payloader].compactMap { $0 }.joined(separator: " ! ")
        let branch = try await GStreamer.blocking { () throws -> Bin in try Bin.parse(description) }
        guard let rtpCaps = Caps(sender.caps), let sink = branch.staticPad("sink"), let source = branch.staticPad("src") else {
            throw GatewayError("cannot make a sending branch for \(sender.caps)")
        }
        let webrtcPad = try webrtc.requestSinkPad(caps: rtpCaps)
        webrtcPad.onCapsChange(capsChanged)
        guard let teePad = tee.requestPad("src_%u") else {
            webrtc.releaseRequestPad(webrtcPad)
            throw GatewayError("the encoder's tee gives no more branches")
        }
        bin.add(branch)
        sendBranches.append(SendBranch(kind: sender.kind, tee: tee, teePad: teePad, bin: branch, webrtcPad: webrtcPad))
        try source.link(webrtcPad)
        branch.syncStateWithParent()
        let entry = try bin.addGhostPad(named: "\(sender.kind.rawValue)_\(sendBranches.count)", for: sink)
        try teePad.link(entry)
    }

    /// Whether every sending branch has caps: webrtcbin builds an offer's m-lines from them.
    var sendersHaveCaps: Bool { sendBranches.allSatisfy { $0.webrtcPad.hasCurrentCaps } }

    /// Receives a kind this peer is not sent, in any of `caps`' codecs.
    func addReceiveOnly(caps: String) {
        if let caps = Caps(caps) { webrtc.addTransceiver(.recvonly, caps: caps) }
    }

    /// Asks the encoder that feeds this peer for a keyframe (the shared one with `--encode once`).
    func requestKeyframe() {
        for branch in sendBranches where branch.kind == .video {
            branch.bin.staticPad("src")?.requestKeyframe()
        }
    }

    /// This peer's own video encoder (`--encode per-peer`).
    var videoEncoder: Element? {
        sendBranches.lazy.compactMap { $0.bin.element(named: SendGraph.videoEncoder) }.first
    }

    /// Counts what arrives from now on; the transport it counts at exists once connecting.
    func watchArrivals() {
        if !countingArrivals { countingArrivals = webrtc.countArrivingPackets(into: arrived) }
    }

    /// What a recording is of: where it goes, whose it is, and the kinds the peer said it
    /// sends (the recording's muxer needs all its pads before it starts).
    typealias Recording = (directory: String, peer: PeerID, kinds: Set<MediaKind>)

    /// Splits a pad of remote media into a counting sink (or ALSA, with `playAudio`) and,
    /// when `recording` says where, the recorder, then lets it flow. With `composing`, the
    /// stream is also given, as it comes, on a pad of this bin that is returned with its codec.
    func receive(_ pad: Pad, held probe: Probe, recording: Recording?,
                 playAudio: String?, composing: Bool) async throws -> (pad: Pad, codec: ReceivedCodec)? {
        defer {
            probe.remove()
            // Ask the sender for a keyframe (a PLI) rather than wait for its next one.
            if pad.caps?.string("media") == "video" { pad.requestKeyframe() }
        }
        guard let caps = pad.caps, let encoding = caps.string("encoding-name"),
              let codec = ReceivedCodec(encodingName: encoding) else {
            // Something we cannot unpack: let it run into a fakesink rather than stall webrtcbin.
            try await link(pad, to: "fakesink sync=false async=false")
            return nil
        }
        let split = try await GStreamer.blocking { () throws -> Element in try Element.make("tee") }
        split.set("allow-not-linked", true)
        bin.add(split)
        split.syncStateWithParent()
        guard let sink = split.staticPad("sink"), let main = split.requestPad("src_%u") else {
            throw GatewayError("cannot split a received stream")
        }
        try pad.link(sink)
        var composed: (pad: Pad, codec: ReceivedCodec)?
        if composing {
            guard let given = split.requestPad("src_%u") else { throw GatewayError("cannot split a received stream") }
            composed = (try bin.addGhostPad(named: "composed_\(codec.kind.rawValue)_\(incoming.count)", for: given), codec)
        }
        incoming.append(Incoming(kind: codec.kind, codec: codec, pad: pad, split: split))
        let counter = codec.kind == .video ? received : receivedAudio
        if codec.kind == .video { pad.measureSenderLag(into: videoLag) }
        let branch: Bin
        if codec.kind == .audio, let device = playAudio {
            let sink = "alsasink async=false" + (device.isEmpty ? "" : " device=\(SendGraph.quoted(device))")
            branch = try await link(main, to: "queue ! rtpopusdepay name=depay ! opusdec ! audioconvert ! audioresample ! \(sink)")
        } else {
            branch = try await link(main, to: "queue ! \(codec.depayloader) name=depay ! fakesink sync=false async=false")
        }
        branch.element(named: "depay")?.staticPad("src")?.countBuffers(into: counter)
        // Last: a recording that cannot start costs the recording, not the stream.
        if let recording, !recordingStopped {
            try await record(incoming.count - 1, into: recorderFor(recording))
        }
        return composed
    }

    /// Adds the branch of stream `index` into `recorder`: depayloaded, as it comes.
    private func record(_ index: Int, into recorder: Recorder) async throws {
        let stream = incoming[index]
        guard stream.recording == nil else { return }
        // Leaky: while the muxer waits for the other stream's first buffer this one must not block webrtcbin.
        let branch = try await GStreamer.blocking { () throws -> Bin in
            try Bin.parse("queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=3000000000 ! \(stream.codec.depayloader)")
        }
        guard let sink = branch.staticPad("sink"), let source = branch.staticPad("src"), let teePad = stream.split.requestPad("src_%u") else {
            throw GatewayError("cannot add a recording branch")
        }
        bin.add(branch)
        branch.syncStateWithParent()
        do {
            try recorder.attach(source, kind: stream.kind)
            try teePad.link(sink)
        } catch {
            stream.split.releaseRequestPad(teePad)
            await remove([branch])
            throw GatewayError("cannot record the peer's \(stream.kind.rawValue): \(error)")
        }
        incoming[index].recording = (branch, teePad)
        // A recording that starts mid-stream decodes from the peer's next keyframe: ask for one now.
        if stream.kind == .video { stream.pad.requestKeyframe() }
    }

    /// Whether any stream has come from the peer.
    var receivesAnything: Bool { !incoming.isEmpty }

    /// Starts recording everything this peer sends, from now on; returns the file. Nothing
    /// when it records already.
    func startRecording(_ recording: Recording) async throws -> String {
        if let recorder { return recorder.path }
        recordingStopped = false
        let recorder = try await recorderFor(recording)
        for index in incoming.indices { try await record(index, into: recorder) }
        return recorder.path
    }

    /// Ends the recording: its streams end, the file is finalised. Returns the file.
    func stopRecording() async -> String? {
        guard let recorder else { return nil }
        let branches = takeRecordingBranches()
        for branch in branches {
            await branch.teePad.unlinkWhenIdle()
            branch.tee.releaseRequestPad(branch.teePad)
            branch.bin.staticPad("sink")?.sendEOS()
        }
        await recorder.finish()
        self.recorder = nil
        await remove(branches.map(\.bin))
        return recorder.path
    }

    private func takeRecordingBranches() -> [(bin: Bin, teePad: Pad, tee: Element)] {
        var branches: [(bin: Bin, teePad: Pad, tee: Element)] = []
        for index in incoming.indices {
            guard let branch = incoming[index].recording else { continue }
            branches.append((branch.bin, branch.teePad, incoming[index].split))
            incoming[index].recording = nil
        }
        return branches
    }

    private func remove(_ branches: [Bin]) async {
        let bin = bin
        await GStreamer.blocking {
            for branch in branches {
                branch.setState(.null)
                bin.remove(branch)
            }
        }
    }

    private func recorderFor(_ recording: Recording) async throws -> Recorder {
        if let recorder { return recorder }
        let made = try await Recorder.make(directory: recording.directory, peerID: recording.peer,
                                           kinds: recording.kinds.isEmpty ? [.video, .audio] : recording.kinds, bin: bin)
        recorder = made
        return made
    }

    @discardableResult
    private func link(_ pad: Pad, to description: String) async throws -> Bin {
        let branch = try await GStreamer.blocking { () throws -> Bin in try Bin.parse(description) }
        bin.add(branch)
        receiveBranches.append(branch)
        branch.syncStateWithParent()
        guard let sink = branch.staticPad("sink") else { throw GatewayError("receiving branch has no input") }
        try pad.link(sink)
        return branch
    }

    /// Whether a bus message from `path` (inside this bin) is its recording's.
    static func isRecording(_ path: String) -> Bool {
        path.split(separator: "/").last?.hasPrefix(Recorder.elementPrefix) == true
    }

    /// Gives the recording up after a write failed, keeping the media flowing; returns its
    /// file, which holds what was written. Nil when it was already given up.
    func abandonRecording() async -> String? {
        guard let recorder else { return nil }
        await recorder.abandon()
        self.recorder = nil
        recordingStopped = true
        let branches = takeRecordingBranches()
        for branch in branches {
            await branch.teePad.unlinkWhenIdle()
            branch.tee.releaseRequestPad(branch.teePad)
        }
        await remove(branches.map(\.bin))
        return recorder.path
    }

    /// Removes the whole bin from the pipeline, finalising the recording. Never call it from
    /// a GStreamer callback: setting a webrtcbin to NULL there deadlocks.
    func tearDown() async {
        webrtc.stopObserving()
        for branch in sendBranches {
            await branch.teePad.unlinkWhenIdle()
            branch.tee.releaseRequestPad(branch.teePad)
        }
        // End what we receive from its entry, so the recording's muxer sees every stream end
        // and no streaming thread stays blocked in it when the elements stop.
        for stream in incoming {
            guard let sink = stream.split.staticPad("sink") else { continue }
            sink.dropBuffers()
            sink.sendEOS()
        }
        await recorder?.finish()
        recorder = nil
        let (bin, pipeline) = (bin, pipeline)
        await GStreamer.blocking {
            bin.setState(.null)
            pipeline.remove(bin)
        }
        sendBranches.removeAll()
        receiveBranches.removeAll()
        incoming.removeAll()
    }
}
