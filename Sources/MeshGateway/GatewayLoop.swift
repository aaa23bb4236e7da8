import Foundation
import GStreamer
import Logging
import MeshProtocol

/// The running gateway's event loop: it routes each event to the peer it is for and keeps
/// the room's membership. Peers negotiate in ``PeerSession``; the shared media is
/// ``SendingMedia``'s. Everything here runs on the one task of `run()`.
final class GatewayLoop {
    let gateway: Gateway
    private let configuration: GatewayConfiguration
    let logger: Logger
    let media: SendingMedia
    /// `--compose`; gone after an error in its output.
    var composer: Composer?
    /// `--metrics`.
    private let metrics: GatewayMetrics?
    /// `meshgate ctl source`.
    let switcher: SourceSwitch
    private let signalling: SignallingClient
    let context: PeerContext
    var membership: Membership
    var peers: [PeerID: PeerSession] = [:]
    /// Video codecs each peer's answer refused: the next offer to it leaves them out.
    private var refusedCodecs: [PeerID: Set<VideoCodec>] = [:]
    private var nextSerial = 1
    /// When this gateway last sent `new_user`: a newcomer's first frames are counted from it.
    var joinedAt: ContinuousClock.Instant?
    var failure: GatewayError?
    private var refusals: Refusals
    /// When to give freed memory back to the system, after peers left.
    var memoryReturnDue: ContinuousClock.Instant?

    init(gateway: Gateway) async throws(GatewayError) {
        self.gateway = gateway
        logger = gateway.logger
        var configuration = gateway.configuration
        configuration.selectedEncoder = try await Self.chooseEncoder(configuration, logger: logger)
        let missing = NetworkInterfaces.addresses(of: configuration.iceInterfaces).missing
        if !missing.isEmpty {
            logger.warning("--ice-interface names interfaces that have no address now; ICE uses them once they have one",
                           metadata: ["interfaces": "\(missing.joined(separator: ", "))"])
        }
        self.configuration = configuration
        let post = gateway.post
        media = try await SendingMedia.make(configuration, logger: logger) { post.yield($0) }
        if configuration.isHub {
            composer = try Composer.hub(in: media.pipeline, width: configuration.width, height: configuration.height, fps: configuration.fps, logger: logger)
        } else if let destination = configuration.compose {
            guard let target = ComposeTarget(destination) else { throw GatewayError("--compose takes \(ComposeTarget.forms)") }
            composer = try await Composer.make(target, width: configuration.composeWidth, height: configuration.composeHeight, fps: configuration.composeFPS,
                                               bitrate: configuration.composeBitrate, pipeline: media.pipeline, logger: logger)
            logger.info("composing what peers send", metadata: [
                "to": "\(target.shown)", "size": "\(configuration.composeWidth)x\(configuration.composeHeight)", "fps": "\(configuration.composeFPS)",
            ])
        }
        switcher = SourceSwitch(pipeline: media.pipeline, latency: configuration.sourceLatency, errors: media.switchErrors) { post.yield(.switchedSourceEnded(bin: $0)) }
        metrics = configuration.metrics.map { GatewayMetrics(factory: $0, codecs: configuration.videoCodecs) }
        signalling = SignallingClient(url: configuration.serverURL, link: configuration.signallingLink, logger: Logger(label: "meshgate.signalling"))
        membership = Membership(me: configuration.id, name: configuration.name, maxPeers: configuration.maxPeers)
        refusals = Refusals(logger: logger, maxPeers: configuration.maxPeers)
        context = PeerContext(configuration: configuration, logger: logger, pipeline: media.pipeline, feeds: media.feeds,
                              sourceVideo: media.passthroughWatch, encodedVideo: media.encodedVideo, signalling: signalling, composer: composer, metrics: metrics, recording: RecordingTarget(configuration.recordDirectory),
                              post: { post.yield($0) }, children: gateway.children)
    }

    /// Picks the H.264 encoder (`--encoder`), trying hardware ones on a thread of their own:
    /// each try starts a pipeline. Nil when we send no H.264 (VP8 is always vp8enc).
    private static func chooseEncoder(_ configuration: GatewayConfiguration, logger: Logger) async throws(GatewayError) -> VideoEncoder? {
        guard configuration.video != .none || configuration.preset?.names("video") == true else { return nil }
        let c = configuration
        let outcome = await GStreamer.blocking {
            EncoderSelection.choose(c.encoder, codec: c.videoCodecs.contains(.h264) ? .h264 : .vp8, installed: GStreamer.hasElement) { encoder in
                EncoderProbe.starts(encoder, width: c.width, height: c.height, fps: c.fps, bitrate: c.bitrate)
            }
        }
        let chosen = try outcome.get()
        for warning in chosen.warnings { logger.warning("\(warning)") }
        logger.info("video encoder", metadata: ["element": "\(chosen.encoder.factory)", "why": "\(chosen.reason)"])
        return chosen.encoder == .vp8 ? nil : chosen.encoder
    }

    func run() async throws(GatewayError) {
        let post = gateway.post
        try await media.start { post.yield($0) }
        // webrtcbin makes its DTLS certificate when the first peer comes, taking seconds here;
        // making it now lets the first peer connect as fast as later ones.
        await GStreamer.blocking { _ = try? Element.make("dtlsdec") }

        let (children, signalling) = (gateway.children, signalling)
        await withDiscardingTaskGroup { group in
            group.addTask { await children.run() }
            group.addTask { await signalling.run { post.yield(.signalling($0)) } }
            startTimers()
            if configuration.chat { ChatInput.start { post.yield(.chatLine($0)) } }
            for await event in gateway.events {
                if case .stop(let reason) = event {
                    logger.info("leaving", metadata: ["reason": "\(reason)"])
                    break
                }
                await handle(event)
                if failure != nil { break }
                media.updateEncoders()
                await composer?.update(participants: participants)
            }
            await leave()
            group.cancelAll()
        }
        if let failure { throw failure }
    }

    private func startTimers() {
        if let duration = configuration.duration {
            gateway.post(.stop(reason: "--duration \(duration) s passed"), after: .seconds(duration))
        }
        scheduleNext(.bitrate)
        scheduleNext(.report)
        scheduleNext(.liveness)
        scheduleNext(.sources)
        scheduleNext(.traffic)
    }

    /// Posts the next tick of a kind this gateway has. Statistics ticks are posted once the
    /// previous round is done: a slow round (webrtcbin answers in up to 5 s) must not pile up.
    private func scheduleNext(_ tick: Gateway.Tick) {
        switch tick {
        case .bitrate where configuration.encode == .perPeer:
            gateway.post(.tick(.bitrate), after: .seconds(1))
        case .report:
            if let interval = configuration.statsInterval { gateway.post(.tick(.report), after: .seconds(interval)) }
        case .liveness:
            gateway.post(.tick(.liveness), after: .seconds(1))
        case .sources where media.hasLiveInputs:
            gateway.post(.tick(.sources), after: .seconds(1))
        case .traffic where metrics != nil || configuration.control:
            gateway.post(.tick(.traffic), after: TrafficRates.interval)
        default:
            break
        }
    }

    // MARK: - Events

    private func handle(_ event: Gateway.Event) async {
        switch event {
        case .signalling(.connected):
            joinedAt = .now
            await apply(membership.handle(.socketOpened, peers: peerView))
        case .registerAgain:
            await apply(membership.handle(.socketOpened, peers: peerView))
        case .reconnectPeer(let id, let attempt):
            await reconnect(id, attempt: attempt)
        case .signalling(.text(let text)):
            await handle(text: text)
        case .signalling(.disconnected(let reason)):
            await apply(membership.handle(.socketLost, peers: peerView))
            logger.warning("signalling connection lost; media to connected peers keeps flowing; reconnecting", metadata: ["reason": "\(reason)"])
        case .signalling(.unreachable(let error)):
            failure = error
        case .peer(let id, let serial, let event):
            guard let session = peers[id], session.serial == serial else { return }
            if case .firstFrame = event { logFirstFrame(session) }
            await apply(await session.handle(event), of: session)
        case .bus(let message):
            await handle(message)
        case .sourceEnded:
            gateway.stop(reason: "the source ended")
        case .sourceLost(let name, let reason):
            await sourceLost(name, reason: reason)
        case .sourceRetry(let name):
            await media.reopenSource(name)
        case .switchedSourceEnded(let bin):
            await switchedSourceEnded(bin)
        case .tick(.sources):
            for (name, reason) in media.checkSources() { await sourceLost(name, reason: reason) }
            scheduleNext(.sources)
        case .snapshot(let continuation):
            continuation.resume(returning: snapshot())
        case .control(let command, let continuation):
            continuation.resume(returning: await control(command))
        case .tick(.report):
            startStatisticsRound(for: .report)
        case .tick(.bitrate):
            startStatisticsRound(for: .bitrate)
        case .tick(.traffic):
            metrics?.update(media)
            startStatisticsRound(for: .traffic)
        case .statisticsDone(let use):
            switch use {
            case .report: scheduleNext(.report)
            case .bitrate: scheduleNext(.bitrate)
            case .traffic: scheduleNext(.traffic)
            }
        case .chatLine(let text?):
            say(text)
        case .chatLine(nil):
            logger.info("stdin ended: chat goes on receiving, and sends nothing more")
        case .tick(.liveness):
            await checkLiveness()
            scheduleNext(.liveness)
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
            await apply(membership.handle(.connectionList(list, newUser: message.newUserId), peers: peerView))
        case .restConnectionList?:
            guard let list = message.list else { return }
            await apply(membership.handle(.restList(list), peers: peerView))
        case .closeConnection?:
            guard let id = message.id else { return }
            await apply(membership.handle(.closeConnection(id), peers: peerView))
        case .error?:
            let code = message.code.flatMap(ProtocolError.Code.init(rawValue:))
            refusals.byServer(code, message.message ?? "")
            await apply(membership.handle(.refused(code, message.message ?? ""), peers: peerView))
        case .sendOffer?, .sendAnswer?, .newCandidate?:
            guard message.targetId == configuration.id, let id = message.id, id != configuration.id else { return }
            await route(message, from: id)
        default:
            break
        }
    }

    /// Hands a peer's negotiation message to its session, checked by ``RemoteInput`` first.
    private func route(_ message: Message, from id: PeerID) async {
        do throws(RemoteInput.Refusal) {
            switch message.type {
            case .sendOffer?:
                guard let sdp = message.sdp else { return }
                let summary = try RemoteInput.check(description: sdp, expected: "offer")
                guard membership.admits(id, peers: peerView) else { return refusals.overCapacity(id) }
                try refusals.takeOfferAllowance(of: id, peers: peers.keys)
                if let session = peers[id] {
                    let outcomes = await session.receiveOffer()
                    await apply(outcomes, of: session)
                    guard outcomes.contains(.answerInNewConnection) else { return }
                }
                await answer(sdp.sdp, summary: summary, from: id)
            case .sendAnswer?:
                guard let sdp = message.sdp, let session = peers[id] else { return }
                let summary = try RemoteInput.check(description: sdp, expected: "answer")
                await apply(await session.receiveAnswer(sdp.sdp, summary: summary), of: session)
            case .newCandidate?:
                guard let ice = message.ice, let session = peers[id] else { return }
                guard let candidate = try RemoteInput.check(candidate: ice) else { return }
                await apply(await session.receiveCandidate(candidate), of: session)
            default:
                return
            }
        } catch {
            refusals.peerMessage(from: id, type: message.type?.rawValue ?? "message", reason: error.description)
        }
    }

    /// A network source dropped: peers stay; it is opened again after its backoff.
    func sourceLost(_ name: String, reason: String) async {
        await media.sourceLost(name, reason: reason) { delay in
            gateway.post(.sourceRetry(name: name), after: delay)
        }
    }

    // MARK: - Doing what membership and sessions say

    private func apply(_ actions: [Membership.Action]) async {
        for action in actions {
            switch action {
            case .send(let message):
                signalling.send(message.jsonText())
            case .registered(let others):
                logger.info("registered", metadata: ["id": "\(configuration.id)", "server": "\(Redacted.url(configuration.serverURL))", "others": "\(others)"])
            case .peerJoined(let id, let name):
                logger.info("peer joined", metadata: ["peer": "\(id)", "name": "\(name)"])
            case .offer(let id):
                await offer(to: id)
            case .overCapacity(let id):
                refusals.overCapacity(id)
            case .remove(let id, let reason):
                refusedCodecs[id] = nil
                await removePeer(id, reason: reason)
            case .checkStillThere(let ids):
                let now = ContinuousClock.now
                for id in ids { peers[id]?.resync = ResyncCheck(registeredAt: now) }
            case .registerAgain(let delay):
                gateway.post(.registerAgain, after: delay)
            case .fail(let reason):
                failure = GatewayError(reason)
            }
        }
    }

    private func apply(_ outcomes: [PeerSession.Outcome], of session: PeerSession) async {
        for outcome in outcomes {
            switch outcome {
            case .refused(let type, let reason):
                refusals.peerMessage(from: session.id, type: type, reason: reason)
            case .answerInNewConnection:
                // The caller answers the offer once this connection is gone.
                await removePeer(session.id, reason: "offered again", ifSerial: session.serial)
            case .connected:
                await media.startFiles()
            case .remove(let reason):
                await removePeer(session.id, reason: reason, ifSerial: session.serial)
            case .offerAgain(let codec):
                refusedCodecs[session.id, default: []].insert(codec)
                let left = configuration.videoCodecs.filter { !(refusedCodecs[session.id] ?? []).contains($0) }
                logger.info("peer does not take \(codec.encodingName); offering again", metadata: [
                    "peer": "\(session.id)", "video": "\(left.first?.encodingName ?? "none: it takes none of our codecs")",
                ])
                await offer(to: session.id)
            }
        }
    }

    // MARK: - Peers

    /// Who is in the composed picture: every connected peer, with its name and whether it
    /// says it sends video.
    private var participants: [(id: PeerID, name: String, sendsVideo: Bool)] {
        peers.values.filter(\.negotiation.isConnected).sorted { $0.serial < $1.serial }.map { session in
            (session.id, membership.names[session.id] ?? session.id, session.remoteSends(.video))
        }
    }

    /// Each peer's id and whether it is connected, as ``Membership`` sees them.
    private var peerView: Membership.Peers {
        peers.mapValues { $0.negotiation.isConnected }
    }

    private func newSession(for id: PeerID, role: Negotiation.Role) async -> PeerSession? {
        let serial = nextSerial
        nextSerial += 1
        do {
            let session = try await PeerSession.make(id: id, serial: serial, role: role, context: context)
            peers[id] = session
            return session
        } catch {
            logger.error("cannot connect to peer", metadata: ["peer": "\(id)", "reason": "\(error)"])
            return nil
        }
    }

    func offer(to id: PeerID) async {
        await removePeer(id, reason: "reconnecting")
        guard let session = await newSession(for: id, role: .offerer) else { return }
        await apply(await session.startOffering(refusing: refusedCodecs[id] ?? []), of: session)
    }

    private func answer(_ sdp: String, summary: SDPSummary, from id: PeerID) async {
        await removePeer(id, reason: "offered again")
        guard let session = await newSession(for: id, role: .answerer) else { return }
        await apply(await session.answer(sdp, summary: summary), of: session)
    }

    /// Removes `id`'s connection (only the one of `serial`, when given).
    func removePeer(_ id: PeerID, reason: String, ifSerial serial: Int? = nil) async {
        guard let session = peers[id], serial == nil || session.serial == serial else { return }
        peers[id] = nil
        metrics?.remove(id)
        let recording = session.recordingPath
        // Out of the picture first: the composition is fed from the peer's bin.
        await context.composer?.remove(id)
        await session.tearDown()
        // A hub's mix for the peer goes once the peer's branch no longer takes from it.
        await context.composer?.removeMix(for: id)
        // Its threads end, and their memory can go back, a moment after.
        memoryReturnDue = .now + .seconds(2)
        var metadata: Logger.Metadata = ["peer": "\(id)", "reason": "\(reason)"]
        if let recording { metadata["recording"] = "\(recording)" }
        logger.info("peer left", metadata: metadata)
    }

    private func leave() async {
        await apply(membership.handle(.leaving, peers: peerView))
        for id in peers.keys.sorted() {
            await removePeer(id, reason: "we left")
        }
        if let composer {
            await composer.finish()
            if let target = composer.target { logger.info("composition finished", metadata: ["to": "\(target.shown)"]) }
        }
        await media.stop()
        // Let the close_connection frame go out before the socket closes.
        try? await Task.sleep(for: .milliseconds(100))
        signalling.close()
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
