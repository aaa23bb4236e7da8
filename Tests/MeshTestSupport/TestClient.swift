import Foundation
import HummingbirdWSClient
import Logging
import MeshProtocol
import NIOSSL
import Synchronization

/// A real WebSocket client (HummingbirdWSClient) that records what it receives.
public final class TestClient: Sendable {
    /// What the connection task shares with the test.
    private final class Inbox: Sendable {
        struct State {
            var texts: [String] = []
            var connected = false
            var ended = false
        }
        let state = Mutex(State())
    }

    private let inbox: Inbox
    private let outgoing: AsyncStream<WebSocketOutboundWriter.OutboundFrame>.Continuation
    private let task: Task<WebSocketCloseFrame?, any Error>

    private init(inbox: Inbox, outgoing: AsyncStream<WebSocketOutboundWriter.OutboundFrame>.Continuation, task: Task<WebSocketCloseFrame?, any Error>) {
        self.inbox = inbox
        self.outgoing = outgoing
        self.task = task
    }

    /// Connects and waits until the upgrade is done.
    public static func connect(_ url: String, tls: TLSConfiguration? = nil) async throws -> TestClient {
        let (stream, continuation) = AsyncStream.makeStream(of: WebSocketOutboundWriter.OutboundFrame.self)
        let inbox = Inbox()
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        let task = Task {
            defer { inbox.state.withLock { $0.ended = true } }
            return try await WebSocketClient.connect(
                url: url,
                configuration: .init(maxFrameSize: 1 << 22, autoPing: .disabled),
                tlsConfiguration: tls,
                logger: logger
            ) { inbound, outbound, _ in
                inbox.state.withLock { $0.connected = true }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await frame in stream { try await outbound.write(frame) }
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 24) {
                            if case .text(let text) = message { inbox.state.withLock { $0.texts.append(text) } }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
        try await eventually("connection to \(url)") { () async throws -> Bool? in
            let (connected, ended) = inbox.state.withLock { ($0.connected, $0.ended) }
            if connected { return true }
            if ended {
                _ = try await task.value
                throw Timeout(description: "connection to \(url) ended before the upgrade")
            }
            return nil
        }
        return TestClient(inbox: inbox, outgoing: continuation, task: task)
    }

    /// Connects and registers, consuming the `connection_list` that announces this client.
    public static func join(_ url: String, id: String, username: String? = nil) async throws -> TestClient {
        let client = try await connect(url)
        client.send(Message(type: .newUser, id: id, username: username ?? id))
        _ = try await client.next(where: { $0.type == .connectionList && $0.newUserId == id })
        return client
    }

    public func send(_ text: String) { outgoing.yield(.text(text)) }
    public func send(_ message: Message) { send(message.jsonText()) }
    public func sendBinary(_ bytes: [UInt8]) { outgoing.yield(.binary(.init(bytes: bytes))) }

    /// The next text frame received, in order.
    public func nextText(within limit: Duration = .seconds(10)) async throws -> String {
        try await eventually("a message", within: limit) {
            inbox.state.withLock { $0.texts.isEmpty ? nil : $0.texts.removeFirst() }
        }
    }

    public func next(within limit: Duration = .seconds(10)) async throws -> Message {
        try await eventually("a message", within: limit) { try takeMessage() }
    }

    /// The first frame received, decoded; nil while none is waiting.
    ///
    /// Decoding stays in this synchronous function of its own, which tests in other modules
    /// cannot inline: with `Message.decode` in the async `next` itself, Swift 6.3.1's optimiser
    /// crashes splitting `join`, and test functions that inline `next`, into coroutines
    /// (`swift build -c release`).
    private func takeMessage() throws -> Message? {
        guard let text = inbox.state.withLock({ $0.texts.isEmpty ? nil : $0.texts.removeFirst() }) else { return nil }
        return try Message.decode(text)
    }

    /// Skips frames until one matches; returns it.
    public func next(where match: (Message) -> Bool, within limit: Duration = .seconds(10)) async throws -> Message {
        let deadline = ContinuousClock.now + limit
        while true {
            let message = try await next(within: deadline - ContinuousClock.now)
            if match(message) { return message }
        }
    }

    /// Frames received and not yet read.
    public var pending: [String] { inbox.state.withLock { $0.texts } }

    /// What arrives within `quiet`; tests expect it empty after actions that must reach no one.
    public func expectNothing(for quiet: Duration = .milliseconds(200)) async throws -> [String] {
        try await Task.sleep(for: quiet)
        return pending
    }

    /// Closes from our side (status 1000) and waits for the connection to end.
    public func close() async {
        outgoing.finish()
        _ = try? await task.value
    }

    /// Waits for the server to close the connection; returns its close frame.
    public func closedByServer(within limit: Duration = .seconds(10)) async throws -> WebSocketCloseFrame? {
        try await eventually("server to close the socket", within: limit) { inbox.state.withLock { $0.ended } ? true : nil }
        return try await task.value
    }
}
