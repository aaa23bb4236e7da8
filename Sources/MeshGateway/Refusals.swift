import Logging
import MeshProtocol

/// What the gateway turns away, and the log lines for it: at most one line per peer per
/// interval (and one per interval for the server's refusals), so that a peer that floods
/// costs a line, not one per message.
struct Refusals {
    let logger: Logger
    let maxPeers: Int
    private var peerLines = RefusalLog()
    private var serverLines = RefusalLog()
    /// How often each peer may make us answer: every answer costs a new webrtcbin.
    private var offerAllowances: [PeerID: TokenBucket] = [:]

    init(logger: Logger, maxPeers: Int) {
        self.logger = logger
        self.maxPeers = maxPeers
    }

    /// A message of a peer that was not used.
    mutating func peerMessage(from id: PeerID, type: String, reason: String) {
        guard case .log(let unlogged) = peerLines.note(id) else { return }
        var metadata: Logger.Metadata = ["peer": "\(id)", "type": "\(type)", "reason": "\(reason)"]
        if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
        logger.warning("ignored a peer's message", metadata: metadata)
    }

    /// A peer we do not connect to: we hold `--max-peers` already.
    mutating func overCapacity(_ id: PeerID) {
        guard case .log(let unlogged) = peerLines.note(id) else { return }
        var metadata: Logger.Metadata = ["peer": "\(id)", "max_peers": "\(maxPeers)"]
        if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
        logger.error("refused a peer: this gateway has as many peers as --max-peers allows", metadata: metadata)
    }

    /// The server refused something we sent (a rate-limited gateway gets one refusal per frame).
    mutating func byServer(_ code: ProtocolError.Code?, _ text: String) {
        guard case .log(let unlogged) = serverLines.note("") else { return }
        var metadata: Logger.Metadata = ["code": "\(code?.rawValue ?? "")", "message": "\(text)"]
        if unlogged > 0 { metadata["unlogged_before"] = "\(unlogged)" }
        logger.warning("server refused a message", metadata: metadata)
    }

    /// A peer may offer a few times at once (a browser that rejoins), then once per 5 s.
    /// Allowances of ids not in `peers` are forgotten once there are many.
    mutating func takeOfferAllowance(of id: PeerID, peers: some Collection<PeerID>, now: ContinuousClock.Instant = .now) throws(RemoteInput.Refusal) {
        if offerAllowances[id] == nil, offerAllowances.count >= 2 * maxPeers {
            let kept = Set(peers)
            offerAllowances = offerAllowances.filter { kept.contains($0.key) }
        }
        var allowance = offerAllowances[id] ?? TokenBucket(rate: 0.2, burst: 4, now: now)
        defer { offerAllowances[id] = allowance }
        guard allowance.take(at: now) else { throw RemoteInput.Refusal("offers faster than one per 5 s") }
    }
}
