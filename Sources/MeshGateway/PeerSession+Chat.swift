import Foundation
import GStreamer
import Logging
import MeshProtocol

/// Each connection's `chat` data channel: the offerer makes it before its offer (a gateway
/// with `--chat`; the browser client always), the answerer takes the peer's. With `--chat`,
/// what peers say is printed as JSON lines; whatever the peer sends, it costs only that line.
extension PeerSession {
    static let chatLabel = "chat"
    /// Longest chat message sent or printed; longer ones are dropped, and the log says so.
    static let maxChatBytes = 16 * 1024
    /// Messages a second one peer may have printed, on average, and at once.
    static let chatRate = (perSecond: 20.0, burst: 50)

    /// As the offerer with `--chat`: the channel, made before the offer so that the offer
    /// carries it. Without `--chat` nothing would read it: the connection carries no SCTP
    /// association of its own making (a peer that opens one still gets its channel taken).
    func openChat() {
        guard configuration.chat, !configuration.isHub else { return }
        do {
            adopt(try media.webrtc.createDataChannel(label: Self.chatLabel))
        } catch {
            context.logger.warning("no chat with this peer", metadata: ["peer": "\(id)", "reason": "\(error)"])
        }
    }

    /// A channel the peer opened: its `chat` is taken, anything else closed.
    func peerOpened(_ channel: DataChannel) {
        let label = channel.label
        guard label == Self.chatLabel, chat.channel == nil, !configuration.isHub else {
            context.logger.debug("closed a data channel the peer opened", metadata: ["peer": "\(id)", "label": "\(Self.shown(label))"])
            channel.close()
            return
        }
        adopt(channel)
    }

    private func adopt(_ channel: DataChannel) {
        chat.channel = channel
        let post = context.poster(for: id, serial: serial)
        channel.observe { post(.chat($0)) }
    }

    func handleChat(_ event: DataChannelEvent) {
        switch event {
        case .opened:
            chat.open = true
            context.logger.debug("chat open", metadata: ["peer": "\(id)"])
        case .closed:
            chat.open = false
        case .failed(let reason):
            chat.open = false
            context.logger.warning("chat channel failed", metadata: ["peer": "\(id)", "reason": "\(reason)"])
        case .message(let text):
            received(text)
        }
    }

    private func received(_ text: String) {
        guard configuration.chat else { return }
        guard text.utf8.count <= Self.maxChatBytes else {
            context.logger.warning("dropped a chat message over \(Self.maxChatBytes / 1024) KiB", metadata: ["peer": "\(id)", "bytes": "\(text.utf8.count)"])
            return
        }
        guard chat.bucket.take(at: .now) else {
            chat.dropped += 1
            if chat.dropped == 1 {
                context.logger.warning("peer sends chat faster than \(Int(Self.chatRate.perSecond)) messages a second; dropping what is over", metadata: ["peer": "\(id)"])
            }
            return
        }
        let line: [String: Any] = ["type": "chat", "peer": id, "text": text]
        guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Sends `text` on the chat channel; false when it is not open.
    func say(_ text: String) -> Bool {
        guard chat.open, let channel = chat.channel else { return false }
        do {
            try channel.send(text)
            return true
        } catch {
            context.logger.warning("cannot send chat", metadata: ["peer": "\(id)", "reason": "\(error)"])
            return false
        }
    }

    /// Ends the channel before the connection goes.
    func closeChat() {
        chat.channel?.stopObserving()
        chat.channel?.close()
        chat = Chat()
    }

    /// A label as the log may show it: short, printable.
    private static func shown(_ label: String) -> String {
        String(label.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(32))
    }
}

/// One connection's chat channel and what the peer may still send on it.
struct Chat {
    var channel: DataChannel?
    var open = false
    var bucket = TokenBucket(rate: PeerSession.chatRate.perSecond, burst: PeerSession.chatRate.burst, now: .now)
    var dropped = 0
}
