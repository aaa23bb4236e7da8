import Foundation
import GStreamer
import Logging
import MeshProtocol

/// The state of a running gateway, owned by the one task that runs its event loop.
final class GatewayLoop {
    private let gateway: Gateway
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let pipeline: Pipeline
    private let sendGraph: SendGraph
    /// Elements of the sending half: an error in one of them ends the call.
    private let sendElements: Set<String>
    private let signalling: SignallingClient
    private var peers: [PeerID: PeerSession] = [:]
    private var nextSerial = 1
    private var registered = false
    /// When this gateway last sent `new_user`: a newcomer's first frames are counted from it.
    private var joinedAt: ContinuousClock.Instant?
    private var everRegistered = false
    /// Ids in the room lists since we last registered. After a reconnect, a peer missing
    /// from the list may just not have reconnected yet; it left only once it was listed.
    private var listedSinceRegistering: Set<PeerID> = []
    /// Decodebins that play their file in a loop, sought back to the start at each segment-done.
    private var loopedDecoders: [Element] = []
    /// `file:` sources wait for the first peer to connect, so that someone sees them from the
    /// start: the pad each one waits at, and the probe that holds it.
    private var waitingFiles: [(pad: Pad, probe: UInt)] = []
    private var failure: GatewayError?
    private var refusals = RefusalLog()
    private var serverRefusals = RefusalLog()
    /// How often each peer may make us answer: every answer costs a new webrtcbin.
    private var offerAllowances: [PeerID: TokenBucket] = [:]
    /// When to give freed memory back to the system, after peers left.
    private var memoryReturnDue: ContinuousClock.Instant?

    init(gateway: Gateway) throws(GatewayError) {
        self.gateway = gateway
        configuration = gateway.configuration
        logger = gateway.logger
        try Self.checkSources(configuration)
        sendGraph = SendGraph(configuration)
        do {
            pipeline = sendGraph.description.isEmpty ? Pipeline(name: "meshgate") : try Pipeline.parse(sendGraph.description)
        } catch {
            throw GatewayError("cannot build the media pipeline: \(error.message)")
        }
        // Every peer's RTCP maps our media's time to the wall clock, and a receiver plays and
        // measures by it: a sound card's clock, which a pipeline with a microphone would pick,
        // can run off that rate.
        pipeline.useSystemClock()
        sendElements = Set(pipeline.elementNames)
        signalling = SignallingClient(url: configuration.serverURL, logger: Logger(label: "meshgate.signalling"))
        // What the tees carry is fixed when the pipeline starts, and every peer's branch takes it
        // as it is. Otherwise each branch linked asks upstream to renegotiate, and a sender
        // meeting several peers at once on a busy machine now and then lost its audio source
        // for good (not-negotiated, in the source's thread, where renegotiation runs).
        for tee in [SendGraph.videoTee, SendGraph.audioTee] {
            pipeline.element(named: tee)?.staticPad("sink")?.dropReconfigureRequests()
        }
        waitingFiles = SendGraph.fileQueues.compactMap { pipeline.element(named: $0)?.staticPad("src") }.map { ($0, $0.holdAfterFirstBuffer()) }
    }

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

    func run() async throws(GatewayError) {
        let post = gateway.post
        pipeline.onBusMessage { post.yield(.bus($0)) }
        for tee in [SendGraph.videoTee, SendGraph.audioTee] {
            pipeline.element(named: tee)?.staticPad("sink")?.onEOS { post.yield(.sourceEnded) }
        }
        guard pipeline.setState(.playing) else {
            let reason = await firstBusError() ?? "the pipeline refused to start"
            pipeline.setState(.null)
            throw GatewayError("cannot start the media: \(reason)")
        }

        await startLooping()

        // webrtcbin makes its DTLS certificate when the first peer comes, taking seconds here;
        // making it now lets the first peer connect as fast as later ones.
        await Task.detached { _ = try? Element.make("dtlsdec") }.value

        let started = AsyncStream<Result<Void, GatewayError>>.makeStream()
        let signallingTask = Task { [signalling] in
            await signalling.run(events: { post.yield(.signalling($0)) }, firstConnection: { started.continuation.yield($0) })
            started.continuation.finish()
        }
        var firstResult: Result<Void, GatewayError>?
        for await result in started.stream {
            firstResult = result
            break
        }
        if case .failure(let error)? = firstResult {
            pipeline.setState(.null)
            throw error
        }
        let timers = startTimers()
        defer { timers.forEach { $0.cancel() } }

        for await event in gateway.events {
            if case .stop(let reason) = event {
                logger.info("leaving", metadata: ["reason": "\(reason)"])
                break
            }
            await handle(event)
            if failure != nil { break }
        }

        await leave()
        signallingTask.cancel()
        signalling.close()
        _ = await signallingTask.value
        if let failure { throw failure }
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

    private func startTimers() -> [Task<Void, Never>] {
        let post = gateway.post
        var timers: [Task<Void, Never>] = []
        if let duration = configuration.duration {
            timers.append(Task {
                try? await Task.sleep(for: .seconds(duration))
                if !Task.isCancelled { post.yield(.stop(reason: "--duration \(duration) s passed")) }
            })
        }
        scheduleNext(.bitrateTick)
        scheduleNext(.statsTick)
        scheduleNext(.livenessTick)
        return timers
    }

    /// Posts the next bitrate or `--stats` tick, when this gateway has them. Each is posted once
    /// the previous one is done: a slow tick (webrtcbin answers statistics in up to 5 s) must
    /// not pile ticks up ahead of signalling.
    private func scheduleNext(_ tick: Event) {
        switch tick {
        case .bitrateTick where configuration.encode == .perPeer:
            gateway.post(.bitrateTick, after: .seconds(1))
        case .statsTick:
            if let interval = configuration.statsInterval { gateway.post(.statsTick, after: .seconds(interval)) }
        case .livenessTick:
            gateway.post(.livenessTick, after: .seconds(1))
        default:
            break
        }
    }

    /// The error a failed state change posted (the bus handler ran before set_state returned).
    private func firstBusError() async -> String? {
        gateway.post.yield(.stop(reason: "start failed"))
        for await event in gateway.events {
            switch event {
            case .bus(.error(_, let message, _)): return message
            case .stop: return nil
            default: continue
            }
        }
        return nil
    }

    // MARK: - Events

    private func handle(_ event: Event) async {
        switch event {
        case .signalling(.connected):
            joinedAt = .now
            signalling.send(Message(type: .newUser, id: configuration.id, username: configuration.name ?? configuration.id).jsonText())
        case .signalling(.text(let text)):
            await handle(text: text)
        case .signalling(.disconnected(let reason)):
            registered = false
            logger.warning("signalling connection lost; media to connected peers keeps flowing; reconnecting", metadata: ["reason": "\(reason)"])
        case .webrtc(let id, let serial, let event):
            guard let session = peers[id], session.serial == serial else { return }
            await handle(event, of: session)
        case .recordingDue(let id, let serial):
            guard let session = peers[id], session.serial == serial else { return }
            session.endMissingRecordedStreams()
        case .offerDue(let id, let serial):
            guard let session = peers[id], session.serial == serial, !session.offerSent else { return }
            if let ready = session.sendersReadySince, ContinuousClock.now - ready > .milliseconds(200) {
                await makeOffer(session)
            } else if ContinuousClock.now - session.started > .seconds(5) {
                logger.warning("sending branches have no caps yet; offering anyway", metadata: ["peer": "\(id)"])
                await makeOffer(session)
            } else {
                gateway.post(.offerDue(id, serial: serial), after: .milliseconds(50))
            }
        case .firstFrame(let id, let serial):
            guard let session = peers[id], session.serial == serial else { return }
            let now = ContinuousClock.now
            var metadata: Logger.Metadata = ["peer": "\(id)", "after_ms": "\((now - session.started).milliseconds)"]
            // For a peer met by joining, the wait a user sees: from our new_user to a decodable frame.
            if session.role == .offerer, let joinedAt { metadata["since_join_ms"] = "\((now - joinedAt).milliseconds)" }
            logger.info("first frame", metadata: metadata)
        case .bus(let message):
            handle(message)
        case .sourceEnded:
            gateway.post.yield(.stop(reason: "the source ended"))
        case .snapshot(let continuation):
            continuation.resume(returning: snapshot())
        case .statsTick:
            await printStatistics()
            scheduleNext(.statsTick)
        case .bitrateTick:
            await adaptBitrates()
            scheduleNext(.bitrateTick)
        case .livenessTick:
            await checkLiveness()
            if let due = memoryReturnDue, due <= .now {
                memoryReturnDue = nil
                GStreamer.returnFreedMemory()
            }
            scheduleNext(.livenessTick)
        case .stop:
            break
        }
    }

    private func handle(text: String) async {
        let message: Message
        do {
            message = try Message.decode(text)
        } catch {
            logger.warning("ignored a message from the server", metadata: ["reason": "\(error.message)"])
            return
        }
        switch message.type {
        case .connectionList?:
            guard let list = message.list else { return }
            if message.newUserId == configuration.id {
                if everRegistered {
                    // Peers that saw our old socket go closed their side: find out which.
                    let now = ContinuousClock.now
                    for (id, session) in peers where list[id] != nil && isConnected(id) {
                        session.resync = ResyncCheck(registeredAt: now)
                    }
                }
                registered = true
                everRegistered = true
                listedSinceRegistering = Set(list.keys)
                logger.info("registered", metadata: ["id": "\(configuration.id)", "server": "\(Redacted.url(configuration.serverURL))", "others": "\(list.count - 1)"])
                // As the newcomer we offer to everyone we are not already connected to.
                for id in list.keys.sorted() where id != configuration.id && !isConnected(id) {
                    guard peers[id] != nil || hasRoomForAnotherPeer(id) else { continue }
                    await offer(to: id)
                }
                await removePeers(notIn: list)
            } else if let newcomer = message.newUserId {
                noteListed(list)
                logger.info("peer joined", metadata: ["peer": "\(newcomer)", "name": "\(list[newcomer]?.username ?? newcomer)"])
            }
        case .restConnectionList?:
            guard let list = message.list else { return }
            noteListed(list)
            await removePeers(notIn: list)
        case .closeConnection?:
            if let id = message.id, id != configuration.id { await removePeer(id, reason: "left") }
        case .sendOffer?:
            guard message.targetId == configuration.id, let id = message.id, let sdp = message.sdp else { return }
            do throws(RemoteInput.Refusal) {
                let summary = try RemoteInput.check(description: sdp, expected: "offer")
                guard peers[id] != nil || hasRoomForAnotherPeer(id) else { return }
                try takeOfferAllowance(of: id)
                await answer(offer: sdp.sdp, summary: summary, from: id)
            } catch {
                refuse(id, "offer", error)
            }
        case .sendAnswer?:
            guard message.targetId == configuration.id, let id = message.id, let sdp = message.sdp,
                  let session = peers[id], session.role == .offerer else { return }
            let summary: SDPSummary
            do throws(RemoteInput.Refusal) {
                summary = try RemoteInput.check(description: sdp, expected: "answer")
            } catch {
                return refuse(id, "answer", error)
            }
            do {
                let refusals = try await session.setRemote(.answer, sdp.sdp, summary: summary)
                for refusal in refusals { refuse(id, "new_candidate", refusal) }
            } catch {
                logger.warning("answer refused", metadata: ["peer": "\(id)", "reason": "\(error.message)"])
            }
        case .newCandidate?:
            guard message.targetId == configuration.id, let id = message.id, let ice = message.ice,
                  let session = peers[id] else { return }
            do throws(RemoteInput.Refusal) {
                guard let candidate = try RemoteInput.check(candidate: ice) else { return }
                try session.addRemoteCandidate(candidate)
            } catch {
                refuse(id, "new_candidate", error)
            }
        case .error?:
            handleRefusal(code: message.code.flatMap(ProtocolError.Code.init(rawValue:)), message.message ?? "")
        default:
            break
        }
    }

    /// The server refused something we sent: logged (one line per interval, a rate-limited
    /// gateway gets one refusal per frame); what retrying cannot fix ends the gateway.
    private func handleRefusal(code: ProtocolError.Code?, _ text: String) {
        if case .log(let unlogged) = serverRefusals.note("") {
            var metadata: Logger.Metadata = ["code": "\(code?.rawValue ?? "")", "message": "\(text)"]
            if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
            logger.warning("server refused a message", metadata: metadata)
        }
        switch code {
        case .unauthorized?:
            failure = GatewayError("the server refused our token: \(text); check ?token= in --server")
        case .idTooLong?, .invalidID?, .usernameTooLong?, .invalidUsername?, .missingID?:
            failure = GatewayError("the server refused our id or name: \(text); choose another with --id or --name")
        case .duplicateID? where !registered:
            if everRegistered {
                // Our old socket may still be registered: the server drops it at its next ping.
                gateway.post(.signalling(.connected), after: .seconds(2))
            } else {
                failure = GatewayError("id '\(configuration.id)' is already in this call: choose another with --id")
            }
        case .roomFull? where !registered:
            if everRegistered {
                // Someone took our place while we were away; a place may come free.
                gateway.post(.signalling(.connected), after: .seconds(5))
            } else {
                failure = GatewayError("the room is full: \(text)")
            }
        default:
            break
        }
    }

    /// Logs a refused message of a peer, at most one line per peer per interval.
    private func refuse(_ id: PeerID, _ type: String, _ refusal: RemoteInput.Refusal) {
        guard case .log(let unlogged) = refusals.note(id) else { return }
        var metadata: Logger.Metadata = ["peer": "\(id)", "type": "\(type)", "reason": "\(refusal.description)"]
        if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
        logger.warning("ignored a peer's message", metadata: metadata)
    }

    /// A peer may offer a few times at once (a browser that rejoins), then once per 5 s.
    private func takeOfferAllowance(of id: PeerID) throws(RemoteInput.Refusal) {
        let now = ContinuousClock.now
        if offerAllowances[id] == nil, offerAllowances.count >= 2 * configuration.maxPeers {
            offerAllowances = offerAllowances.filter { peers[$0.key] != nil }
        }
        var allowance = offerAllowances[id] ?? TokenBucket(rate: 0.2, burst: 4, now: now)
        defer { offerAllowances[id] = allowance }
        guard allowance.take(at: now) else { throw RemoteInput.Refusal("offers faster than one per 5 s") }
    }

    /// Whether another peer fits under `--max-peers`; says so in the log when it does not.
    private func hasRoomForAnotherPeer(_ id: PeerID) -> Bool {
        guard peers.count >= configuration.maxPeers else { return true }
        if case .log(let unlogged) = refusals.note(id) {
            var metadata: Logger.Metadata = ["peer": "\(id)", "max_peers": "\(configuration.maxPeers)"]
            if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
            logger.error("refused a peer: this gateway has as many peers as --max-peers allows", metadata: metadata)
        }
        return false
    }

    private func isConnected(_ id: PeerID) -> Bool {
        guard let session = peers[id] else { return false }
        return session.state == .connected || session.state == .connecting
    }

    private func handle(_ event: WebRTCEvent, of session: PeerSession) async {
        switch event {
        case .negotiationNeeded:
            // The `.offerDue` poll offers once every sending pad has caps. webrtcbin asks
            // earlier, and an offer made then lacks the senders' SSRCs: webrtcbin 1.22 on the
            // answering side then cannot tell the streams apart and loses all but the first.
            break
        case .iceCandidate(let mline, let candidate):
            logger.trace("local candidate", metadata: ["peer": "\(session.id)", "mline": "\(mline)", "candidate": "\(candidate)"])
            let ice = IceCandidate(candidate: candidate, sdpMid: session.localSummary?.mid(ofLine: mline), sdpMLineIndex: mline)
            send(Message(type: .newCandidate, id: configuration.id, targetId: session.id,
                         username: configuration.name ?? configuration.id, ice: ice))
        case .incomingPad(let pad, let probe):
            logger.debug("receiving", metadata: ["peer": "\(session.id)", "caps": "\(pad.caps?.description ?? "none")"])
            do {
                try session.receive(pad, blockProbe: probe, recordDirectory: configuration.recordDirectory, playAudio: configuration.playAudioDevice)
            } catch {
                logger.error("cannot receive media", metadata: ["peer": "\(session.id)", "reason": "\(error.description)"])
            }
        case .connectionState(let state):
            guard state != session.state else { return }
            session.state = state
            logger.info("peer \(state.rawValue)", metadata: ["peer": "\(session.id)"])
            if state == .connected {
                startFiles()
                session.requestKeyframe()
            }
            if state == .failed { await removePeer(session.id, reason: "connection failed") }
        }
    }

    /// Plays the waiting files from where they wait (their start), as if they began now.
    private func startFiles() {
        guard !waitingFiles.isEmpty else { return }
        let now = Int(pipeline.runningTime ?? 0)
        for (pad, probe) in waitingFiles {
            pad.setOffset(nanoseconds: now)
            pad.removeProbe(probe)
        }
        waitingFiles = []
        logger.info("file started")
    }

    private func makeOffer(_ session: PeerSession) async {
        guard session.role == .offerer, !session.offerSent else { return }
        session.offerSent = true
        do {
            let offer = TransportWideCC.announced(in: try await session.webrtc.createOffer()) { _ in TransportWideCC.offeredID }
            logger.trace("offer", metadata: ["peer": "\(session.id)", "sdp": "\(offer)"])
            try await session.setLocal(.offer, offer)
            send(Message(type: .sendOffer, id: configuration.id, targetId: session.id,
                         username: configuration.name ?? configuration.id, sdp: .offer(offer)))
        } catch {
            logger.error("cannot make an offer", metadata: ["peer": "\(session.id)", "reason": "\(error.message)"])
        }
    }

    private func handle(_ message: BusMessage) {
        switch message {
        case .error(let source, let text, let debug):
            logger.debug("pipeline error detail", metadata: ["source": "\(source)", "debug": "\(debug ?? "")"])
            if let session = peers.values.first(where: { $0.records(with: source) }) {
                guard let path = session.abandonRecording() else { return }
                logger.error("recording stopped: it cannot be written; the call goes on, the file keeps what was written", metadata: [
                    "peer": "\(session.id)", "file": "\(path)", "reason": "\(text)",
                ])
            } else if sendElements.contains(source) {
                // "Internal data stream error" says nothing; the flow return behind it does.
                let reason = debug?.split(separator: "\n").last { $0.contains("reason ") }.map { "; \($0)" } ?? ""
                failure = GatewayError("the media source failed: \(text) (element \(source)\(reason))")
            } else {
                logger.warning("pipeline error", metadata: ["source": "\(source)", "reason": "\(text)"])
            }
        case .warning(let source, let text):
            logger.debug("pipeline warning", metadata: ["source": "\(source)", "reason": "\(text)"])
        case .endOfStream:
            break
        case .segmentDone:
            for decoder in loopedDecoders where !decoder.seekToStartAsSegment(flush: false) {
                logger.warning("cannot play the file again; it ends here", metadata: ["element": "\(decoder.name)"])
            }
        }
    }

    private func send(_ message: Message) {
        signalling.send(message.jsonText())
    }

    /// The encoder of a peer's own sending branch with `--encode per-peer`; nil when the
    /// shared encoder before the tee does it.
    private func encoder(_ kind: MediaKind) -> String? {
        let c = configuration
        guard c.encode == .perPeer else { return nil }
        return kind == .video
            ? c.videoCodec.encoder(name: SendGraph.videoEncoder, bitrate: c.bitrate, fps: c.fps)
            : Opus.encoder(name: SendGraph.audioEncoder)
    }

    // MARK: - Peers

    private func newSession(for id: PeerID, role: PeerSession.Role) throws(GatewayError) -> PeerSession {
        let serial = nextSerial
        nextSerial += 1
        let post = gateway.post
        let session = try PeerSession(
            id: id, serial: serial, role: role, pipeline: pipeline, configuration: configuration,
            firstFrame: { post.yield(.firstFrame(id, serial: serial)) },
            recorderStarted: { [gateway] in gateway.post(.recordingDue(id, serial: serial), after: .seconds(3)) },
            events: { post.yield(.webrtc(id, serial: serial, $0)) }
        )
        peers[id] = session
        logger.info("peer connecting", metadata: ["peer": "\(id)", "role": "\(role == .offerer ? "offer" : "answer")"])
        return session
    }

    private func offer(to id: PeerID) async {
        if peers[id] != nil { await removePeer(id, reason: "reconnecting") }
        do {
            let session = try newSession(for: id, role: .offerer)
            // Playing before any branch links to it: a webrtcbin still in NULL answers the first
            // buffers with FLUSHING, which stops the branch's queue for good and, through the
            // tee, the shared encoder and the source for every peer.
            session.start()
            let codec = configuration.videoCodec
            if let tee = sendGraph.sendsVideo ? pipeline.element(named: SendGraph.videoTee) : nil {
                let profile = VideoCodec.h264ProfileLevelID(width: configuration.width, height: configuration.height, fps: configuration.fps)
                try session.attachSender(tee: tee, encoder: encoder(.video), payloader: codec.payloader(pt: codec.offeredPayloadType),
                                         caps: codec.rtpCaps(pt: codec.offeredPayloadType, profileLevelID: profile))
            } else {
                session.addReceiveOnly(caps: VideoCodec.allCases.map { $0.rtpCaps(pt: $0.offeredPayloadType) }.joined(separator: ";"))
            }
            if let tee = sendGraph.sendsAudio ? pipeline.element(named: SendGraph.audioTee) : nil {
                try session.attachSender(tee: tee, encoder: encoder(.audio), payloader: Opus.payloader(pt: Opus.offeredPayloadType),
                                         caps: Opus.rtpCaps(pt: Opus.offeredPayloadType))
            } else {
                session.addReceiveOnly(caps: Opus.rtpCaps(pt: Opus.offeredPayloadType))
            }
            if session.sends {
                gateway.post(.offerDue(id, serial: session.serial), after: .milliseconds(50))
            } else {
                // Nothing to send, so no caps to wait for: a receive-only joiner offers at once.
                await makeOffer(session)
            }
        } catch {
            logger.error("cannot connect to peer", metadata: ["peer": "\(id)", "reason": "\(error.description)"])
            await removePeer(id, reason: "failed")
        }
    }

    private func answer(offer sdp: String, summary offer: SDPSummary, from id: PeerID) async {
        if peers[id] != nil { await removePeer(id, reason: "offered again") }
        do {
            let session = try newSession(for: id, role: .answerer)
            session.start()
            for refusal in try await session.setRemote(.offer, sdp, summary: offer) { refuse(id, "new_candidate", refusal) }
            let codec = configuration.videoCodec
            for line in offer.lines {
                guard let kind = MediaKind(rawValue: line.kind) else { continue }
                let sends = kind == .video ? sendGraph.sendsVideo : sendGraph.sendsAudio
                let name = kind == .video ? codec.encodingName : Opus.encodingName
                if sends, line.receives, let offered = offer.codec(name, kind: kind),
                   let tee = pipeline.element(named: kind == .video ? SendGraph.videoTee : SendGraph.audioTee) {
                    let pt = offered.payloadType
                    let payloader = kind == .video ? codec.payloader(pt: pt) : Opus.payloader(pt: pt)
                    let caps = kind == .video
                        ? codec.rtpCaps(pt: pt, profileLevelID: offered.parameter("profile-level-id") ?? "42e01f")
                        : Opus.rtpCaps(pt: pt)
                    try session.attachSender(tee: tee, encoder: encoder(kind), payloader: payloader, caps: caps)
                } else {
                    if sends, line.receives {
                        logger.warning("peer does not take our codec; sending it no \(kind.rawValue)", metadata: ["peer": "\(id)", "codec": "\(name)"])
                    }
                    if let caps = receivableCaps(of: line) { session.addReceiveOnly(caps: caps) }
                }
            }
            let answer = TransportWideCC.announced(in: try await session.webrtc.createAnswer()) {
                offer.lines.indices.contains($0) ? offer.lines[$0].extensionID(TransportWideCC.uri) : nil
            }
            logger.trace("answer", metadata: ["peer": "\(id)", "sdp": "\(answer)"])
            let frame = Message(type: .sendAnswer, id: configuration.id, targetId: id, username: configuration.name ?? configuration.id, sdp: .answer(answer))
            guard frame.jsonText().utf8.count <= RemoteInput.maxOutgoingFrameBytes else {
                // Sent, it would cost us the socket: the server closes one that sends a frame over its limit.
                logger.warning("cannot answer: the answer would be too big for the server", metadata: [
                    "peer": "\(id)", "bytes": "\(frame.jsonText().utf8.count)", "limit": "\(RemoteInput.maxOutgoingFrameBytes)",
                ])
                await removePeer(id, reason: "answer too big")
                return
            }
            try await session.setLocal(.answer, answer)
            send(frame)
        } catch let error as GStreamerError {
            logger.error("cannot answer", metadata: ["peer": "\(id)", "reason": "\(error.message)"])
            await removePeer(id, reason: "failed")
        } catch {
            logger.error("cannot answer", metadata: ["peer": "\(id)", "reason": "\(error)"])
            await removePeer(id, reason: "failed")
        }
    }

    /// The codecs of an offered m-line that MeshGate can record, with the offer's payload types.
    private func receivableCaps(of line: SDPSummary.MediaLine) -> String? {
        let structures = line.codecs.filter { ReceivedCodec.names.contains($0.encodingName) }.map { codec in
            let media = line.kind
            let rate = media == "audio" ? 48000 : 90000
            return "application/x-rtp,media=\(media),encoding-name=\(codec.encodingName),payload=\(codec.payloadType),clock-rate=\(rate)"
        }
        return structures.isEmpty ? nil : structures.joined(separator: ";")
    }

    /// Remembers who was listed, for ``removePeers(notIn:)``; only ids that matter to it are
    /// kept (our peers, the room now), or a gateway in a busy room for months would keep
    /// every id it ever saw.
    private func noteListed(_ list: UserList) {
        listedSinceRegistering.formUnion(list.keys)
        listedSinceRegistering.formIntersection(Set(peers.keys).union(list.keys))
    }

    /// Removes the peers a room list no longer holds, except connected ones that have not
    /// been listed since we registered: they keep their media while they reconnect.
    private func removePeers(notIn list: UserList) async {
        for id in peers.keys.sorted() where list[id] == nil && (listedSinceRegistering.contains(id) || !isConnected(id)) {
            await removePeer(id, reason: "left")
        }
    }

    private func removePeer(_ id: PeerID, reason: String) async {
        guard let session = peers.removeValue(forKey: id) else { return }
        await session.tearDown()
        // Its threads end, and their memory can go back, a moment after.
        memoryReturnDue = .now + .seconds(2)
        var metadata: Logger.Metadata = ["peer": "\(id)", "reason": "\(reason)"]
        if let path = session.recordingPath { metadata["recording"] = "\(path)" }
        logger.info("peer left", metadata: metadata)
    }

    private func leave() async {
        if registered {
            send(Message(type: .closeConnection, id: configuration.id))
        }
        for id in peers.keys.sorted() {
            await removePeer(id, reason: "we left")
        }
        pipeline.setState(.null)
        pipeline.removeBusHandler()
        // Let the close_connection frame go out before the socket closes.
        try? await Task.sleep(for: .milliseconds(100))
    }

    private func snapshot() -> GatewaySnapshot {
        GatewaySnapshot(
            registered: registered,
            peers: peers.values.sorted { $0.id < $1.id }.map {
                .init(id: $0.id, state: $0.state.rawValue, videoBuffers: $0.received.value, audioBuffers: $0.receivedAudio.value,
                      decodableVideo: $0.received.sawKeyframe, recording: $0.recordingPath,
                      stalled: $0.state == .connected && $0.liveness.stalled, queuedCandidates: $0.queuedCandidates)
            },
            pipelineElements: pipeline.childCount
        )
    }

    /// Marks peers from which nothing comes as stalled, and offers again to those that closed
    /// their side while our signalling socket was away, so that media resumes on its own.
    private func checkLiveness() async {
        let now = ContinuousClock.now
        for session in peers.values.sorted(by: { $0.id < $1.id }) where session.state == .connected {
            session.watchArrivals()
            switch session.liveness.update(arrived: session.arrived.value, now: now) {
            case .stalled?:
                logger.warning("peer stalled: nothing has come from it for \(Liveness.stallAfter.components.seconds) s", metadata: ["peer": "\(session.id)"])
            case .resumed?:
                logger.info("peer sending again", metadata: ["peer": "\(session.id)"])
            case nil:
                break
            }
            guard var check = session.resync else { continue }
            let verdict = check.update(arrived: session.arrived.value, now: now)
            session.resync = verdict == .waiting ? check : nil
            if verdict == .gone {
                logger.warning("peer closed our connection while our signalling was away; offering again", metadata: ["peer": "\(session.id)"])
                await offer(to: session.id)
            }
        }
    }

    /// With `--encode per-peer`, each peer's video bitrate follows the loss its receiver reports.
    private func adaptBitrates() async {
        for session in peers.values where session.state == .connected {
            guard let encoder = session.videoEncoder, let statistics = await session.webrtc.statistics(),
                  let lost = statistics.fractionLost(sending: .video),
                  let kbps = session.bitrate.update(fractionLost: lost) else { continue }
            configuration.videoCodec.setBitrate(kbps, on: encoder)
            logger.debug("video bitrate", metadata: ["peer": "\(session.id)", "kbps": "\(kbps)", "lost": "\(Int(lost * 100))%"])
        }
    }

    /// One JSON line per peer on stdout, from webrtcbin's statistics and our frame counters.
    private func printStatistics() async {
        for session in peers.values.sorted(by: { $0.id < $1.id }) {
            guard let statistics = await session.webrtc.statistics() else {
                logger.warning("webrtcbin gave no statistics within 5 s", metadata: ["peer": "\(session.id)", "state": "\(session.state.rawValue)"])
                continue
            }
            let line = session.statisticsLine(statistics, now: ContinuousClock.now)
            guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { continue }
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

typealias Event = Gateway.Event

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
