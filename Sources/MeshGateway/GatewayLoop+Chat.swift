import Foundation
import Logging

/// `--chat`: stdin's lines, read on a thread of their own (a read blocks), posted in order.
enum ChatInput {
    static func start(_ post: @escaping @Sendable (String?) -> Void) {
        Thread.detachNewThread {
            while let line = readLine(strippingNewline: true) { post(line) }
            post(nil)
        }
    }
}

extension GatewayLoop {
    /// Says a line of stdin on every open chat channel.
    func say(_ text: String) {
        guard !text.isEmpty else { return }
        guard text.utf8.count <= PeerSession.maxChatBytes else {
            logger.warning("chat line not sent: longer than \(PeerSession.maxChatBytes / 1024) KiB", metadata: ["bytes": "\(text.utf8.count)"])
            return
        }
        let told = peers.values.filter { $0.say(text) }.count
        if told == 0 {
            logger.warning("chat line not sent: no peer has its chat open")
        } else {
            logger.debug("chat sent", metadata: ["peers": "\(told)"])
        }
    }
}
