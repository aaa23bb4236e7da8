import GStreamer
import MeshProtocol

/// The offer/answer exchange of one peer connection, as a pure state machine: each input
/// returns what to do, and ``PeerSession`` does it. No GStreamer, no clock of its own, so
/// every transition is tested without either (`NegotiationTests`).
struct Negotiation {
    enum Role: Equatable { case offerer, answerer }

    enum Phase: Equatable {
        /// Offerer: waiting until every sending branch has caps, which the offer carries.
        case preparing
        /// Offerer: our offer is out; no answer applied yet.
        case offered
        /// Answerer: the peer's offer is being applied and answered.
        case answering
        /// Both descriptions are set.
        case stable
    }

    /// The offerer's timers.
    enum Timer: Equatable {
        /// The senders' caps have settled: webrtcbin takes a pad's caps a moment after the pad has them.
        case settled
        /// The senders never got caps: offer without them rather than never.
        case deadline
    }

    enum Input: Equatable {
        /// The connection starts; `sends` says whether it has sending branches to wait for.
        case start(sends: Bool)
        /// Every sending branch has caps.
        case sendersReady
        case timer(Timer)
        /// The peer sent an offer while this connection exists.
        case remoteOffer
        case remoteAnswer
        /// The peer's description was applied: queued candidates can go in.
        case remoteDescriptionSet
        case candidate(RemoteInput.Candidate)
        case connectionState(PeerConnectionState)
    }

    enum Action: Equatable {
        case schedule(Timer, after: Duration)
        /// Create and send an offer; `warning` says why it goes out early, if it does.
        case makeOffer(warning: String?)
        case applyAnswer
        case addCandidates([RemoteInput.Candidate])
        /// The peer's message is not used, for this reason (logged, rate-limited).
        case refuse(String)
        /// The peer started over, or wins a glare: a new connection answers its offer.
        case answerInNewConnection
        case connected
        case remove(reason: String)
    }

    /// How long the senders' caps settle before the offer, and how long we wait for them at most.
    static let settleTime = Duration.milliseconds(200)
    static let capsDeadline = Duration.seconds(5)

    let role: Role
    /// When both sides offer at once (glare), whether we drop ours and answer theirs. The side
    /// whose id sorts after the other's yields, so that of two gateways exactly one does.
    /// The browser client always yields, so a gateway that sorts first wins with it too.
    let yieldsInGlare: Bool
    let maxEarlyCandidates: Int
    private(set) var phase: Phase
    private(set) var state: PeerConnectionState = .new
    private(set) var pendingCandidates: [RemoteInput.Candidate] = []
    /// Set once the peer's description is in: candidates go straight to webrtcbin from then on.
    private(set) var remoteDescriptionSet = false

    init(role: Role, me: PeerID, peer: PeerID, maxEarlyCandidates: Int) {
        self.role = role
        yieldsInGlare = me > peer
        self.maxEarlyCandidates = maxEarlyCandidates
        phase = role == .offerer ? .preparing : .answering
    }

    /// Whether ICE has a path or is finding one: such a peer is kept across a signalling drop.
    var isConnected: Bool { state == .connected || state == .connecting }

    mutating func handle(_ input: Input) -> [Action] {
        switch input {
        case .start(let sends):
            guard role == .offerer else { return [] }
            // Nothing to send, so no caps to wait for: a receive-only joiner offers at once.
            return sends ? [.schedule(.deadline, after: Self.capsDeadline)] : offer(warning: nil)
        case .sendersReady:
            return phase == .preparing ? [.schedule(.settled, after: Self.settleTime)] : []
        case .timer(.settled):
            return offer(warning: nil)
        case .timer(.deadline):
            return offer(warning: "sending branches have no caps yet; offering anyway")
        case .remoteOffer:
            if role == .offerer, phase == .preparing || phase == .offered, !yieldsInGlare {
                return [.refuse("an offer while ours is out (glare): ours stands, as our id sorts first")]
            }
            return [.answerInNewConnection]
        case .remoteAnswer:
            switch (role, phase) {
            case (.offerer, .offered): return [.applyAnswer]
            case (.offerer, .preparing): return [.refuse("an answer before our offer")]
            case (.offerer, _): return [.refuse("a second answer to one offer")]
            case (.answerer, _): return [.refuse("an answer, but the peer made the offer")]
            }
        case .remoteDescriptionSet:
            remoteDescriptionSet = true
            if role == .offerer { phase = .stable }
            defer { pendingCandidates.removeAll() }
            return pendingCandidates.isEmpty ? [] : [.addCandidates(pendingCandidates)]
        case .candidate(let candidate):
            if remoteDescriptionSet { return [.addCandidates([candidate])] }
            // Until the description comes, candidates wait, up to a bound: a peer that never
            // sends one must not grow the queue.
            guard pendingCandidates.count < maxEarlyCandidates else {
                return [.refuse("more than \(maxEarlyCandidates) candidates before a description")]
            }
            pendingCandidates.append(candidate)
            return []
        case .connectionState(let new):
            guard new != state else { return [] }
            state = new
            switch new {
            case .connected: return [.connected]
            case .failed: return [.remove(reason: "connection failed")]
            default: return []
            }
        }
    }

    /// Our answer went out (answerer): the exchange is complete.
    mutating func answered() {
        if role == .answerer { phase = .stable }
    }

    private mutating func offer(warning: String?) -> [Action] {
        guard role == .offerer, phase == .preparing else { return [] }
        phase = .offered
        return [.makeOffer(warning: warning)]
    }
}
