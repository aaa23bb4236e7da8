import Foundation
import GStreamer
import MeshProtocol

/// One remote participant: its webrtcbin, the branches that feed it from the
/// shared encoders, and what it sends us. Used only from the gateway's loop.
final class PeerSession {
    enum Role { case offerer, answerer }

    /// A tee branch feeding this peer: queue and payloader, linked to a webrtcbin sink pad.
    private struct SendBranch {
        let tee: Element
        let teePad: Pad
        let bin: Bin
        let webrtcPad: Pad
    }

    let id: PeerID
    /// Tells this connection's events from those of an earlier one with the same id.
    let serial: Int
    let role: Role
    let started = ContinuousClock.now
    let webrtc: WebRTCBin

    private let pipeline: Pipeline
    let configuration: GatewayConfiguration
    private var sendBranches: [SendBranch] = []
    private var receiveBins: [Bin] = []
    private var recorder: Recorder?
    /// Set once a recording failed: no new one starts for this connection.
    private var recordingStopped = false
    /// Elements of a failed recording: their later bus messages are part of the same failure.
    private var abandonedRecordingElements: Set<String> = []
    private var pendingCandidates: [RemoteInput.Candidate] = []
    private(set) var localSummary: SDPSummary?
    private(set) var remoteSummary: SDPSummary?
    var state: PeerConnectionState = .new
    var offerSent = false
    /// This peer's video bitrate when it has its own encoder (`--encode per-peer`).
    var bitrate: BitrateController
    /// Totals at the previous `--stats` line, for rates.
    var lastStatistics: (time: ContinuousClock.Instant, bytesIn: Int, bytesOut: Int)?
    /// Depayloaded video buffers received; the first one is the "first frame" status line.
    let received: BufferCounter
    let receivedAudio = BufferCounter()
    /// How far behind the sender's camera the video we receive from this peer is.
    let videoLag = SenderLag()
    /// Every packet that came in from this peer, media or not: see ``Liveness``.
    let arrived = BufferCounter()
    private var countingArrivals = false
    var liveness = Liveness()
    /// Set while we check that the peer still has us, after our signalling socket was away.
    var resync: ResyncCheck?
    private let recorderStarted: @Sendable () -> Void

    init(id: PeerID, serial: Int, role: Role, pipeline: Pipeline, configuration: GatewayConfiguration,
         firstFrame: @escaping @Sendable () -> Void,
         recorderStarted: @escaping @Sendable () -> Void,
         events: @escaping @Sendable (WebRTCEvent) -> Void) throws(GatewayError) {
        received = BufferCounter(onFirst: firstFrame)
        self.recorderStarted = recorderStarted
        self.id = id
        self.serial = serial
        self.role = role
        self.pipeline = pipeline
        self.configuration = configuration
        bitrate = BitrateController(maximum: configuration.bitrate)
        do {
            webrtc = try WebRTCBin(name: "peer\(serial)")
            if let stun = configuration.stunServer { webrtc.set("stun-server", stun) }
            for turn in configuration.turnServers { try webrtc.addTurnServer(turn) }
            try webrtc.useLocalAddresses(configuration.iceAddresses)
            if let ports = configuration.icePorts { webrtc.setPortRange(min: ports.lowerBound, max: ports.upperBound) }
        } catch {
            throw GatewayError(error.message)
        }
        webrtc.observe(events)
        pipeline.add(webrtc)
    }

    /// Feeds this peer from a tee: leaky queue, `encoder` when the tee carries raw media
    /// (`--encode per-peer`), the payloader, webrtcbin.
    func attachSender(tee: Element, encoder: String?, payloader: String, caps: String) throws(GatewayError) {
        do throws(GStreamerError) {
            // Raw frames are big: a peer whose encoder falls behind skips frames rather than queue them.
            let queue = "queue leaky=downstream max-size-buffers=\(encoder == nil ? 120 : 3) max-size-bytes=0 max-size-time=0"
            let bin = try Bin.parse([queue, encoder, payloader].compactMap { $0 }.joined(separator: " ! "))
            guard let rtpCaps = Caps(caps), let sink = bin.staticPad("sink"), let source = bin.staticPad("src") else {
                throw GStreamerError("cannot make a sending branch for \(caps)")
            }
            let webrtcPad = try webrtc.requestSinkPad(caps: rtpCaps)
            guard let teePad = tee.requestPad("src_%u") else {
                webrtc.releaseRequestPad(webrtcPad)
                throw GStreamerError("the encoder's tee gives no more branches")
            }
            pipeline.add(bin)
            sendBranches.append(SendBranch(tee: tee, teePad: teePad, bin: bin, webrtcPad: webrtcPad))
            try source.link(webrtcPad)
            bin.syncStateWithParent()
            try teePad.link(sink)
        } catch {
            throw GatewayError(error.message)
        }
    }

    /// Asks the encoder that feeds this peer for a keyframe (the shared one with `--encode once`).
    func requestKeyframe() {
        for branch in sendBranches where branch.webrtcPad.caps?.string("media") == "video" {
            branch.bin.staticPad("src")?.requestKeyframe()
        }
    }

    /// This peer's own video encoder (`--encode per-peer`).
    var videoEncoder: Element? {
        sendBranches.lazy.compactMap { $0.bin.element(named: SendGraph.videoEncoder) }.first
    }

    /// Receives a kind this gateway does not send (in an offer, or matching an offered m-line).
    func addReceiveOnly(caps: String) {
        if let caps = Caps(caps) { webrtc.addTransceiver(.recvonly, caps: caps) }
    }

    /// Whether this peer gets media from us.
    var sends: Bool { !sendBranches.isEmpty }

    /// Since when every sending branch has had caps: webrtcbin builds an offer's m-lines from
    /// them, and takes them a moment after the pad has them.
    var sendersReadySince: ContinuousClock.Instant? {
        get {
            if readySince == nil, sendBranches.allSatisfy({ $0.webrtcPad.hasCurrentCaps }) { readySince = .now }
            return readySince
        }
    }
    private var readySince: ContinuousClock.Instant?

    func start() {
        webrtc.syncStateWithParent()
    }

    /// Counts what arrives from now on; the transport it counts at exists once connecting.
    func watchArrivals() {
        if !countingArrivals { countingArrivals = webrtc.countArrivingPackets(into: arrived) }
    }

    /// Sets the peer's description (checked by ``RemoteInput``), then the candidates that
    /// came before it; returns why any of those were refused.
    func setRemote(_ type: WebRTCBin.SDPType, _ sdp: String, summary: SDPSummary) async throws(GStreamerError) -> [RemoteInput.Refusal] {
        try await webrtc.setRemoteDescription(type, sdp)
        remoteSummary = summary
        var refusals: [RemoteInput.Refusal] = []
        for candidate in pendingCandidates {
            do throws(RemoteInput.Refusal) {
                try addRemoteCandidate(candidate)
            } catch {
                refusals.append(error)
            }
        }
        pendingCandidates.removeAll()
        return refusals
    }

    func setLocal(_ type: WebRTCBin.SDPType, _ sdp: String) async throws(GStreamerError) {
        try await webrtc.setLocalDescription(type, sdp)
        localSummary = SDPSummary(sdp)
    }

    var queuedCandidates: Int { pendingCandidates.count }

    /// Candidates that arrive before the remote description wait for it, up to
    /// `--max-early-candidates`: a peer that never sends one cannot grow the queue.
    func addRemoteCandidate(_ candidate: RemoteInput.Candidate) throws(RemoteInput.Refusal) {
        guard let remoteSummary else {
            guard pendingCandidates.count < configuration.maxEarlyCandidates else {
                throw RemoteInput.Refusal("more than \(configuration.maxEarlyCandidates) candidates before a description")
            }
            pendingCandidates.append(candidate)
            return
        }
        let mline = try RemoteInput.mline(of: candidate, in: remoteSummary)
        guard webrtc.addIceCandidate(mline: mline, candidate.line) else {
            throw RemoteInput.Refusal("m-line \(mline) cannot be given to webrtcbin")
        }
    }

    /// Links a pad of remote media to the recorder or a counting sink, then lets it flow.
    func receive(_ pad: Pad, blockProbe: UInt, recordDirectory: String?, playAudio: String?) throws(GatewayError) {
        defer {
            pad.removeProbe(blockProbe)
            // Ask the sender for a keyframe (a PLI) rather than wait for its next one.
            if pad.caps?.string("media") == "video" { pad.requestKeyframe() }
        }
        guard let caps = pad.caps, let encoding = caps.string("encoding-name"),
              let codec = ReceivedCodec(encodingName: encoding) else {
            // Something we cannot unpack: let it run into a fakesink rather than stall webrtcbin.
            try link(pad, to: "fakesink sync=false async=false")
            return
        }
        let counter = codec.kind == .video ? received : receivedAudio
        if codec.kind == .video { pad.measureSenderLag(into: videoLag) }
        if let recordDirectory, !recordingStopped {
            let recorder = try recorderFor(directory: recordDirectory)
            // Leaky: while the muxer waits for the other stream's first buffer this one must not block webrtcbin.
            let bin = try link(pad, to: "queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=3000000000 ! \(codec.depayloader) name=depay")
            bin.element(named: "depay")?.staticPad("src")?.countBuffers(into: counter)
            guard let source = bin.staticPad("src") else { throw GatewayError("receiving branch has no output") }
            try recorder.attach(source, kind: codec.kind)
        } else if codec.kind == .audio, let device = playAudio {
            let sink = "alsasink async=false" + (device.isEmpty ? "" : " device=\(SendGraph.quoted(device))")
            let bin = try link(pad, to: "queue ! rtpopusdepay name=depay ! opusdec ! audioconvert ! audioresample ! \(sink)")
            bin.element(named: "depay")?.staticPad("src")?.countBuffers(into: counter)
        } else {
            let bin = try link(pad, to: "queue ! \(codec.depayloader) name=depay ! fakesink sync=false async=false")
            bin.element(named: "depay")?.staticPad("src")?.countBuffers(into: counter)
        }
    }

    @discardableResult
    private func link(_ pad: Pad, to description: String) throws(GatewayError) -> Bin {
        do throws(GStreamerError) {
            let bin = try Bin.parse(description)
            pipeline.add(bin)
            receiveBins.append(bin)
            bin.syncStateWithParent()
            guard let sink = bin.staticPad("sink") else { throw GStreamerError("receiving branch has no input") }
            try pad.link(sink)
            return bin
        } catch {
            throw GatewayError(error.message)
        }
    }

    /// Ends the recording's streams that have not started by now.
    func endMissingRecordedStreams() {
        recorder?.endMissingStreams()
    }

    private func recorderFor(directory: String) throws(GatewayError) -> Recorder {
        if let recorder { return recorder }
        // The remote description says what the peer sends; the muxer needs all its pads before it starts.
        let kinds = Set((remoteSummary?.lines ?? []).filter(\.sends).compactMap { MediaKind(rawValue: $0.kind) })
        let recorder = try Recorder(directory: directory, peerID: id, name: "recording\(serial)", kinds: kinds.isEmpty ? [.video, .audio] : kinds,
                                    pipeline: pipeline)
        self.recorder = recorder
        recorderStarted()
        return recorder
    }

    var recordingPath: String? { recorder?.path }

    /// Whether `element`, a bus message's source, is part of this peer's recording.
    func records(with element: String) -> Bool {
        recorder?.elementNames.contains(element) == true || abandonedRecordingElements.contains(element)
    }

    /// Gives the recording up after a write failed, keeping the media flowing; returns its
    /// file, which holds what was written. Nil when it was already given up.
    func abandonRecording() -> String? {
        guard let recorder else { return nil }
        recorder.abandon()
        abandonedRecordingElements.formUnion(recorder.elementNames)
        self.recorder = nil
        recordingStopped = true
        return recorder.path
    }

    /// Removes everything of this peer from the pipeline, finalising its recording.
    /// Never call it from a GStreamer callback: setting a webrtcbin to NULL there deadlocks.
    func tearDown() async {
        webrtc.stopObserving()
        for branch in sendBranches {
            await branch.teePad.unlinkWhenIdle()
            branch.tee.releaseRequestPad(branch.teePad)
        }
        // End what we receive from its entry, so the recording's muxer sees every stream end
        // and no streaming thread stays blocked in it when the elements stop.
        for bin in receiveBins {
            guard let sink = bin.staticPad("sink") else { continue }
            sink.dropBuffers()
            sink.sendEOS()
        }
        await recorder?.finish()
        webrtc.setState(.null)
        for bin in receiveBins + sendBranches.map(\.bin) {
            bin.setState(.null)
            pipeline.remove(bin)
        }
        pipeline.remove(webrtc)
        sendBranches.removeAll()
        receiveBins.removeAll()
        recorder = nil
    }
}
