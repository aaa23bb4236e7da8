import GStreamer

extension GatewayLoop {
    /// An error belongs to the bin it comes from: a peer's recording gives up, anything else
    /// of a peer is logged, and one in the sending half ends the call.
    func handle(_ message: BusMessage) async {
        switch message {
        case .error(let source, let text, let debug):
            logger.debug("pipeline error detail", metadata: ["source": "\(source)", "debug": "\(debug ?? "")"])
            if let serial = PeerMedia.serial(inPath: source) {
                guard let session = peers.values.first(where: { $0.serial == serial }) else { return }
                if PeerMedia.isRecording(source) {
                    guard let path = await session.media.abandonRecording() else { return }
                    logger.error("recording stopped: it cannot be written; the call goes on, the file keeps what was written", metadata: [
                        "peer": "\(session.id)", "file": "\(path)", "reason": "\(text)",
                    ])
                } else {
                    logger.warning("pipeline error", metadata: ["peer": "\(session.id)", "source": "\(source)", "reason": "\(text)"])
                }
            } else if Composer.owns(source) {
                await compositionFailed(at: source, reason: text)
            } else if SourceSwitch.owns(source) {
                if let kind = await switcher.failed(inPath: source) {
                    if kind == .video { newScene() }
                    logger.warning("the switched-in source failed; back to the source it started with", metadata: ["kind": "\(kind.rawValue)", "reason": "\(text)"])
                }
            } else if let input = media.input(inPath: source), input.isLive {
                await sourceLost(input.name, reason: text)
            } else {
                // "Internal data stream error" says nothing; the flow return behind it does.
                let reason = debug?.split(separator: "\n").last { $0.contains("reason ") }.map { "; \($0)" } ?? ""
                let element = source.split(separator: "/").last.map(String.init) ?? source
                failure = GatewayError("the media source failed: \(text) (element \(element)\(reason))")
            }
        case .warning(let source, let text):
            logger.debug("pipeline warning", metadata: ["source": "\(source)", "reason": "\(text)"])
        case .endOfStream:
            break
        case .segmentDone:
            media.segmentDone()
        }
    }

    /// An error in the composition: a tile's stream leaves it; one in the output ends the
    /// call when nothing was delivered yet (the destination never opened), else only the
    /// composition (what was written stays).
    private func compositionFailed(at source: String, reason: String) async {
        guard let composer else { return }
        if await composer.dropPart(inPath: source) {
            logger.warning("a stream left the composition: it does not decode", metadata: ["source": "\(source)", "reason": "\(reason)"])
        } else if let target = composer.target {
            self.composer = nil
            await composer.abandon()
            if composer.delivered.value == 0 {
                failure = GatewayError("cannot compose to \(target.shown): \(reason)")
            } else {
                logger.error("composition stopped; the call goes on", metadata: ["to": "\(target.shown)", "reason": "\(reason)"])
            }
        } else {
            // A hub's mix for one peer: that peer hears nothing until it connects again.
            logger.error("a hub's mix failed", metadata: ["source": "\(source)", "reason": "\(reason)"])
        }
    }
}
