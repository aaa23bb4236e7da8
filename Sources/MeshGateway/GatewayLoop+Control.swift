import Logging

/// `meshgate ctl`: each command done by the loop in turn, like any other event.
extension GatewayLoop {
    func control(_ command: ControlCommand) async -> ControlReply {
        switch command {
        case .peers:
            return .peers(peers.values.sorted { $0.id < $1.id }.map { session in
                PeerStatus(
                    id: session.id, name: membership.names[session.id] ?? session.id, state: session.shownState,
                    videoCodec: session.sentVideoCodec?.rawValue, kbpsIn: session.rates.kbpsIn.map { Int($0.rounded()) },
                    kbpsOut: session.rates.kbpsOut.map { Int($0.rounded()) }, recording: session.recordingPath
                )
            })
        case .mute(let kind), .unmute(let kind):
            let muted = command == .mute(kind)
            if let reason = media.setMuted(kind, muted) { return .refused(reason) }
            let now = muted ? (kind == .video ? "peers get black frames" : "peers get silence") : "peers get the source again"
            logger.info(muted ? "muted" : "unmuted", metadata: ["kind": "\(kind.rawValue)", "asked_by": "meshgate ctl"])
            return .done("\(kind.rawValue) \(muted ? "muted" : "unmuted"): \(now)")
        case .leave:
            gateway.stop(reason: "asked to leave (meshgate ctl leave)")
            return .done("leaving the call")
        }
    }
}
