import Foundation
import GStreamer
import Logging
import MeshProtocol

/// One remote participant's connection: it owns its negotiation (``Negotiation`` decides,
/// this acts) and its media (``PeerMedia``). The loop routes each message and event for
/// this peer here and handles what comes back. Used only from the gateway's loop.
final class PeerSession {
    /// What the loop does after a step of this session.
    enum Outcome: Equatable {
        /// A message of the peer was not used (logged by the loop, rate-limited).
        case refused(type: String, reason: String)
        /// The peer's offer starts a new connection: remove this one and answer it.
        case answerInNewConnection
        /// ICE connected: the loop starts waiting files.
        case connected
        case remove(reason: String)
        /// The peer's answer refused the video codec we offered: offer again without it.
        case offerAgain(refusing: VideoCodec)
    }

    let id: PeerID
    /// Tells this connection's events from those of an earlier one with the same id.
    let serial: Int
    let started = ContinuousClock.now
    let media: PeerMedia
    private(set) var negotiation: Negotiation
    let context: PeerContext
    private var logger: Logger { context.logger }
    private(set) var localSummary: SDPSummary?
    private(set) var remoteSummary: SDPSummary?

    var liveness = Liveness()
    /// Set while we check that the peer still has us, after our signalling socket was away.
    var resync: ResyncCheck?
    /// Which video this peer is sent: `passthrough` (the source's own) or `encoded`.
    private(set) var sentVideo: String?
    /// The video codec this peer is sent.
    private(set) var sentVideoCodec: VideoCodec?
    /// Whether the log already said its mDNS candidates cannot be resolved here.
    private var warnedOfMDNS = false
    /// This peer's video bitrate when it has its own encoder (`--encode per-peer`).
    var bitrate: BitrateController
    /// Totals at the previous `--stats` line, for rates.
    var lastStatistics: (time: ContinuousClock.Instant, bytesIn: Int, bytesOut: Int)?
    /// kbit/s each way, for `--metrics` and `meshgate ctl peers`.
    var rates = TrafficRates()
    var chat = Chat()

    var state: PeerConnectionState { negotiation.state }
    var recordingPath: String? { media.recorder?.path }
    var configuration: GatewayConfiguration { context.configuration }

    private init(id: PeerID, serial: Int, role: Negotiation.Role, media: PeerMedia, context: PeerContext) {
        self.id = id
        self.serial = serial
        self.media = media
        self.context = context
        negotiation = Negotiation(role: role, me: context.configuration.id, peer: id, maxEarlyCandidates: context.configuration.maxEarlyCandidates)
        bitrate = BitrateController(maximum: context.configuration.bitrate)
    }

    /// A connection to `id`, its bin in the pipeline and observed, not yet started.
    static func make(id: PeerID, serial: Int, role: Negotiation.Role, context: PeerContext) async throws -> PeerSession {
        let post = context.poster(for: id, serial: serial)
        let media = try await PeerMedia.make(serial: serial, configuration: context.configuration, pipeline: context.pipeline) { post(.firstFrame) }
        media.webrtc.observe { post(.webrtc($0)) }
        context.logger.info("peer connecting", metadata: ["peer": "\(id)", "role": "\(role == .offerer ? "offer" : "answer")"])
        return PeerSession(id: id, serial: serial, role: role, media: media, context: context)
    }

    // MARK: - Offering

    /// Starts as the offerer: our branches, then the offer once they have caps. `refused`
    /// are the video codecs this peer turned down in an earlier offer.
    func startOffering(refusing refused: Set<VideoCodec> = []) async -> [Outcome] {
        await media.start()
        let plan = MediaPlan.offer(configuration, sending: context.sending, passthrough: context.feeds.passthrough?.video, refused: refused)
        do {
            try await build(plan)
        } catch {
            logger.error("cannot connect to peer", metadata: ["peer": "\(id)", "reason": "\(error)"])
            return [.remove(reason: "failed")]
        }
        openChat()
        var actions = negotiation.handle(.start(sends: plan.sends))
        if plan.sends, media.sendersHaveCaps { actions += negotiation.handle(.sendersReady) }
        return await perform(actions)
    }

    private func makeOffer(warning: String?) async -> [Outcome] {
        if let warning { logger.warning("\(warning)", metadata: ["peer": "\(id)"]) }
        do {
            let offer = TransportWideCC.announced(in: try await media.webrtc.createOffer()) { _ in TransportWideCC.offeredID }
            logger.trace("offer", metadata: ["peer": "\(id)", "sdp": "\(offer)"])
            try await media.webrtc.setLocalDescription(.offer, offer)
            localSummary = SDPSummary(offer)
            context.send(message(.sendOffer, sdp: .offer(offer)))
            return []
        } catch {
            logger.error("cannot make an offer", metadata: ["peer": "\(id)", "reason": "\(error)"])
            return [.remove(reason: "failed")]
        }
    }

    /// The peer's answer to our offer (checked by ``RemoteInput``).
    func receiveAnswer(_ sdp: String, summary: SDPSummary) async -> [Outcome] {
        await perform(negotiation.handle(.remoteAnswer), answer: (sdp, summary), refusing: .sendAnswer)
    }

    // MARK: - Answering

    /// Starts as the answerer of `sdp` (checked by ``RemoteInput``): its description, our
    /// branches for what it takes, our answer.
    func answer(_ sdp: String, summary offer: SDPSummary) async -> [Outcome] {
        await media.start()
        var outcomes: [Outcome] = []
        do {
            try await media.webrtc.setRemoteDescription(.offer, OpusHints.removed(from: sdp))
            remoteSummary = offer
            outcomes += await perform(negotiation.handle(.remoteDescriptionSet))
            let plan = MediaPlan.answer(to: offer, configuration, sending: context.sending, passthrough: context.feeds.passthrough?.video)
            if let reason = plan.transcodedBecause {
                logger.info("peer gets the source's video transcoded", metadata: ["peer": "\(id)", "why": "\(reason)"])
            }
            for unsent in plan.unsent {
                logger.warning("peer does not take our codec; sending it no \(unsent.kind.rawValue)", metadata: ["peer": "\(id)", "codec": "\(unsent.codec)"])
            }
            try await build(plan)
            let answer = TransportWideCC.announced(in: try await media.webrtc.createAnswer()) {
                offer.lines.indices.contains($0) ? offer.lines[$0].extensionID(TransportWideCC.uri) : nil
            }
            logger.trace("answer", metadata: ["peer": "\(id)", "sdp": "\(answer)"])
            let frame = message(.sendAnswer, sdp: .answer(answer))
            let bytes = frame.jsonText().utf8.count
            guard bytes <= RemoteInput.maxOutgoingFrameBytes else {
                // Sent, it would cost us the socket: the server closes one that sends a frame over its limit.
                logger.warning("cannot answer: the answer would be too big for the server", metadata: [
                    "peer": "\(id)", "bytes": "\(bytes)", "limit": "\(RemoteInput.maxOutgoingFrameBytes)",
                ])
                return outcomes + [.remove(reason: "answer too big")]
            }
            try await media.webrtc.setLocalDescription(.answer, answer)
            localSummary = SDPSummary(answer)
            context.send(frame)
            negotiation.answered()
            return outcomes
        } catch {
            logger.error("cannot answer", metadata: ["peer": "\(id)", "reason": "\(error)"])
            return outcomes + [.remove(reason: "failed")]
        }
    }

    /// Another offer from the peer while this connection exists.
    func receiveOffer() async -> [Outcome] {
        await perform(negotiation.handle(.remoteOffer), refusing: .sendOffer)
    }

    // MARK: - Candidates and events

    /// A candidate the peer trickled (checked on its own by ``RemoteInput``).
    func receiveCandidate(_ candidate: RemoteInput.Candidate) async -> [Outcome] {
        if !warnedOfMDNS, !MDNS.resolvesHere, let name = MDNS.name(inCandidate: candidate.line) {
            warnedOfMDNS = true
            logger.warning("peer hides its address behind an mDNS name this machine cannot resolve; install libnss-mdns and avahi-daemon, or let the page use the camera",
                           metadata: ["peer": "\(id)", "name": "\(name)"])
        }
        return await perform(negotiation.handle(.candidate(candidate)), refusing: .newCandidate)
    }

    func handle(_ event: PeerEvent) async -> [Outcome] {
        switch event {
        case .webrtc(.negotiationNeeded):
            // The offer waits for every sending pad's caps instead (``Negotiation``). webrtcbin
            // asks earlier, and an offer made then lacks the senders' SSRCs: webrtcbin 1.22 on
            // the answering side then cannot tell the streams apart and loses all but the first.
            return []
        case .webrtc(.iceCandidate(let mline, let candidate)):
            logger.trace("local candidate", metadata: ["peer": "\(id)", "mline": "\(mline)", "candidate": "\(candidate)"])
            let mid = localSummary?.mid(ofLine: mline)
            for line in [candidate] + PublicAddresses(addresses: configuration.publicAddresses).extraCandidates(for: candidate) {
                context.send(message(.newCandidate, ice: IceCandidate(candidate: line, sdpMid: mid, sdpMLineIndex: mline)))
            }
            return []
        case .webrtc(.incomingPad(let pad, let probe)):
            await receive(pad, held: probe)
            return []
        case .webrtc(.dataChannel(let channel)):
            peerOpened(channel)
            return []
        case .chat(let event):
            handleChat(event)
            return []
        case .webrtc(.connectionState(let new)):
            if new != state { logger.info("peer \(new.rawValue)", metadata: ["peer": "\(id)"]) }
            return await perform(negotiation.handle(.connectionState(new)))
        case .capsChanged:
            return media.sendersHaveCaps ? await perform(negotiation.handle(.sendersReady)) : []
        case .timer(let timer):
            return await perform(negotiation.handle(.timer(timer)))
        case .firstFrame:
            return []
        case .recordingDue:
            media.recorder?.endMissingStreams()
            return []
        case .statistics(let statistics, .report):
            report(statistics)
            return []
        case .statistics(let statistics, .bitrate):
            adaptBitrate(statistics)
            return []
        case .statistics(let statistics, .traffic):
            if let traffic = statistics?.traffic { rates.update(traffic, now: .now) }
            context.metrics?.update(self, statistics)
            return []
        }
    }

    /// Whether the peer's description says it sends `kind`.
    func remoteSends(_ kind: MediaKind) -> Bool {
        remoteSummary?.lines.contains { $0.sends && $0.kind == kind.rawValue } == true
    }

    private func receive(_ pad: Pad, held probe: Probe) async {
        logger.debug("receiving", metadata: ["peer": "\(id)", "caps": "\(pad.caps?.description ?? "none")"])
        let hadRecorder = media.recorder != nil
        do {
            let composed = try await media.receive(pad, held: probe, recording: context.recording.directory.map { ($0, id, announcedKinds) },
                                                   playAudio: configuration.playAudioDevice, composing: context.composer != nil)
            if let composed { await context.composer?.attach(composed.pad, codec: composed.codec, of: id) }
        } catch {
            logger.error("cannot receive media", metadata: ["peer": "\(id)", "reason": "\(error)"])
        }
        if !hadRecorder, media.recorder != nil { scheduleRecordingDue() }
    }

    /// What the remote description says the peer sends: the recording's muxer needs all its
    /// pads before it starts.
    private var announcedKinds: Set<MediaKind> {
        Set((remoteSummary?.lines ?? []).filter(\.sends).compactMap { MediaKind(rawValue: $0.kind) })
    }

    /// Streams that have not come in 3 s are ended in the recording, so that it is written.
    private func scheduleRecordingDue() {
        let post = context.poster(for: id, serial: serial)
        context.children.after(.seconds(3)) { post(.recordingDue) }
    }

    /// `meshgate ctl record start`: records what this peer sends from now on into `directory`;
    /// the file, or nil when nothing has come from it yet (its streams record as they come).
    func startRecording(into directory: String) async throws -> String? {
        guard media.receivesAnything else { return nil }
        let hadRecorder = media.recorder != nil
        let path = try await media.startRecording((directory, id, announcedKinds))
        if !hadRecorder { scheduleRecordingDue() }
        return path
    }

    /// `meshgate ctl record stop`: the file finalised, if there was one.
    func stopRecording() async -> String? {
        await media.stopRecording()
    }

    // MARK: - Doing what the negotiation says

    /// Does what the negotiation says; a refusal is of a message of type `refusing`.
    private func perform(_ actions: [Negotiation.Action], answer: (sdp: String, summary: SDPSummary)? = nil,
                         refusing type: MessageType? = nil) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for action in actions {
            switch action {
            case .schedule(let timer, let delay):
                let post = context.poster(for: id, serial: serial)
                context.children.after(delay) { post(.timer(timer)) }
            case .makeOffer(let warning):
                outcomes += await makeOffer(warning: warning)
            case .applyAnswer:
                guard let answer else { continue }
                // Before webrtcbin sees it: Firefox refuses a line without the ICE credentials
                // webrtcbin insists on, and it would refuse the whole answer.
                if let codec = sentVideoCodec, !answer.summary.takesVideo(encodingName: codec.encodingName) {
                    return outcomes + [.offerAgain(refusing: codec)]
                }
                do {
                    try await media.webrtc.setRemoteDescription(.answer, answer.sdp)
                    remoteSummary = answer.summary
                    outcomes += await perform(negotiation.handle(.remoteDescriptionSet))
                } catch {
                    logger.warning("answer refused", metadata: ["peer": "\(id)", "reason": "\(error)"])
                }
            case .addCandidates(let candidates):
                for candidate in candidates {
                    do throws(RemoteInput.Refusal) {
                        try add(candidate)
                    } catch {
                        outcomes.append(.refused(type: MessageType.newCandidate.rawValue, reason: error.description))
                    }
                }
            case .refuse(let reason):
                outcomes.append(.refused(type: type?.rawValue ?? "message", reason: reason))
            case .answerInNewConnection:
                outcomes.append(.answerInNewConnection)
            case .connected:
                media.requestKeyframe()
                outcomes.append(.connected)
            case .remove(let reason):
                outcomes.append(.remove(reason: reason))
            }
        }
        return outcomes
    }

    /// A message from us to this peer.
    private func message(_ type: MessageType, sdp: SessionDescription? = nil, ice: IceCandidate? = nil) -> Message {
        Message(type: type, id: configuration.id, targetId: id, username: configuration.name ?? configuration.id, sdp: sdp, ice: ice)
    }

    private func add(_ candidate: RemoteInput.Candidate) throws(RemoteInput.Refusal) {
        guard let remoteSummary else { throw RemoteInput.Refusal("a candidate before a description") }
        let mline = try RemoteInput.mline(of: candidate, in: remoteSummary)
        guard media.webrtc.addIceCandidate(mline: mline, candidate.line) else {
            throw RemoteInput.Refusal("m-line \(mline) cannot be given to webrtcbin")
        }
    }

    /// Adds the plan's branches and transceivers, in m-line order.
    private func build(_ plan: MediaPlan) async throws {
        let post = context.poster(for: id, serial: serial)
        for step in plan.steps {
            switch step {
            case .send(let sender):
                let tee = if configuration.isHub, sender.kind == .audio { try await context.composer?.mix(for: id) } else { context.feeds.tee(for: sender) }
                guard let tee else { continue }
                try await media.attach(sender, from: tee) { post(.capsChanged) }
                if sender.kind == .video {
                    sentVideo = sender.passthrough ? "passthrough" : "encoded"
                    sentVideoCodec = sender.codec
                }
                if sender.passthrough {
                    // Cameras cannot be asked for a keyframe: the peer's picture starts at the next one.
                    let every = context.sourceVideo?.keyframeInterval.map { " (every \($0.milliseconds) ms)" } ?? ""
                    logger.info("video passes through; the peer's picture starts at the source's next keyframe\(every)", metadata: ["peer": "\(id)"])
                }
            case .receiveOnly(let caps):
                media.addReceiveOnly(caps: caps)
            }
        }
    }

    // MARK: - Liveness

    /// Whether anything still comes from this peer; after our signalling was away, whether it
    /// still has us. Returns whether to offer again (it closed its side).
    func checkLiveness(now: ContinuousClock.Instant) -> LivenessOutcome {
        guard state == .connected else { return .fine }
        media.watchArrivals()
        switch liveness.update(arrived: media.arrived.value, now: now) {
        case .stalled?:
            logger.warning("peer stalled: nothing has come from it for \(Liveness.stallAfter.components.seconds) s", metadata: ["peer": "\(id)"])
        case .resumed?:
            logger.info("peer sending again", metadata: ["peer": "\(id)"])
        case .gone?:
            return .gone
        case nil:
            break
        }
        guard var check = resync else { return .fine }
        let verdict = check.update(arrived: media.arrived.value, now: now)
        resync = verdict == .waiting ? check : nil
        guard verdict == .gone else { return .fine }
        logger.warning("peer closed our connection while our signalling was away; offering again", metadata: ["peer": "\(id)"])
        return .offerAgain
    }

    enum LivenessOutcome {
        case fine
        /// It closed its side while our signalling was away: a new offer.
        case offerAgain
        /// Nothing has come from it for ``Liveness/goneAfter``: its network is gone.
        case gone
    }

    /// Removes everything of this peer from the pipeline, finalising its recording.
    func tearDown() async {
        closeChat()
        await media.tearDown()
    }
}
