import GStreamer
import Logging
import MeshProtocol

/// What the loop reports and watches: status for `snapshot()`, statistics, liveness.
extension GatewayLoop {
    func logFirstFrame(_ session: PeerSession) {
        let now = ContinuousClock.now
        var metadata: Logger.Metadata = ["peer": "\(session.id)", "after_ms": "\((now - session.started).milliseconds)"]
        // For a peer met by joining, the wait a user sees: from our new_user to a decodable frame.
        if session.negotiation.role == .offerer, let joinedAt { metadata["since_join_ms"] = "\((now - joinedAt).milliseconds)" }
        logger.info("first frame", metadata: metadata)
    }

    func snapshot() -> GatewaySnapshot {
        GatewaySnapshot(
            registered: membership.registered,
            peers: peers.values.sorted { $0.id < $1.id }.map {
                .init(id: $0.id, state: $0.state.rawValue, videoBuffers: $0.media.received.value, audioBuffers: $0.media.receivedAudio.value,
                      decodableVideo: $0.media.received.sawKeyframe, recording: $0.recordingPath,
                      stalled: $0.state == .connected && $0.liveness.stalled, queuedCandidates: $0.negotiation.pendingCandidates.count,
                      sentVideo: $0.sentVideo)
            },
            videoEncoders: media.encodersRunning.map(\.rawValue),
            pipelineElements: media.pipeline.childCount
        )
    }

    /// Asks every peer's webrtcbin for statistics in a child task, so that signalling goes on
    /// while webrtcbin answers (in up to 5 s each); each reply comes back as a peer event.
    func startStatisticsRound(for use: StatisticsUse) {
        let targets = peers.values.sorted { $0.id < $1.id }
            .filter { use != .bitrate || ($0.state == .connected && $0.media.videoEncoder != nil) }
            .map { (id: $0.id, serial: $0.serial, webrtc: $0.media.webrtc) }
        let post = gateway.post
        gateway.children.spawn {
            for target in targets {
                let statistics = await target.webrtc.statistics()
                post.yield(.peer(target.id, serial: target.serial, .statistics(statistics, for: use)))
            }
            post.yield(.statisticsDone(use))
        }
    }

    /// Marks peers from which nothing comes as stalled, and offers again to those that closed
    /// their side while our signalling socket was away, so that media resumes on its own.
    func checkLiveness() async {
        let now = ContinuousClock.now
        for session in peers.values.sorted(by: { $0.id < $1.id }) {
            switch session.checkLiveness(now: now) {
            case .fine:
                break
            case .offerAgain:
                await offer(to: session.id)
            case .gone:
                await peerGone(session.id)
            }
        }
        if let due = memoryReturnDue, due <= now {
            memoryReturnDue = nil
            GStreamer.returnFreedMemory()
        }
    }
}

extension GatewayLoop {
    /// The time between offers to a peer whose network went away, while it stays listed.
    static func reconnectDelay(attempt: Int) -> Duration {
        .seconds(min(30, 5 << min(max(attempt - 1, 0), 3)))
    }

    /// Nothing has come from a connected peer for ``Liveness/goneAfter``: its connection is
    /// closed (its recording finalised), and new ones are offered while it stays listed.
    func peerGone(_ id: PeerID) async {
        logger.warning("peer gone: nothing has come from it for \(Liveness.goneAfter.components.seconds) s; offering it a new connection while it stays listed",
                       metadata: ["peer": "\(id)"])
        await removePeer(id, reason: "its network is gone")
        gateway.post(.reconnectPeer(id, attempt: 1), after: Self.reconnectDelay(attempt: 1))
    }

    /// Offers a peer whose network went away a new connection, until one connects or it is
    /// no longer listed.
    func reconnect(_ id: PeerID, attempt: Int) async {
        guard membership.room.contains(id), peers[id]?.negotiation.isConnected != true else { return }
        // A connection still being made (the peer, back, offered by itself) is left to finish.
        if let session = peers[id], ContinuousClock.now - session.started < .seconds(10) {
            gateway.post(.reconnectPeer(id, attempt: attempt), after: Self.reconnectDelay(attempt: attempt))
            return
        }
        logger.info("offering a new connection to a peer whose network went away", metadata: ["peer": "\(id)", "attempt": "\(attempt)"])
        await offer(to: id)
        gateway.post(.reconnectPeer(id, attempt: attempt + 1), after: Self.reconnectDelay(attempt: attempt + 1))
    }
}
