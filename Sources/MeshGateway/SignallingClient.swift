import Foundation
import HummingbirdWSClient
import Logging
import MeshProtocol
import Synchronization

/// The WebSocket to the signalling server (or, for a hub in the server's own process, a
/// ``SignallingLink``). It reconnects with backoff for as long as it runs; the gateway
/// hears of each connection and registers again on it.
final class SignallingClient: Sendable {
    enum Event: Sendable {
        case connected
        case text(String)
        case disconnected(reason: String)
        /// The first attempt failed: the server is not there, and `run` has returned.
        case unreachable(GatewayError)
    }

    private let url: String
    private let link: (@Sendable () -> SignallingLink)?
    private let logger: Logger
    private let outbox = Mutex<AsyncStream<String>.Continuation?>(nil)

    /// `link`, when given, connects in memory instead of to `url`.
    init(url: String, link: (@Sendable () -> SignallingLink)? = nil, logger: Logger) {
        self.url = url
        self.link = link
        self.logger = logger
    }

    /// Sends a text frame on the current connection; dropped while disconnected
    /// (a peer that misses it is renegotiated after the reconnect).
    func send(_ text: String) {
        _ = outbox.withLock { $0?.yield(text) }
    }

    /// Connects again and again until cancelled, reporting to `events`. When the first
    /// attempt fails, it reports `unreachable` and returns.
    func run(events: @escaping @Sendable (Event) -> Void) async {
        let firstDelay = Duration.milliseconds(250)
        var delay = firstDelay
        var attemptedBefore = false
        while !Task.isCancelled {
            let (stream, continuation) = AsyncStream.makeStream(of: String.self)
            let attempt = ContinuousClock.now
            let reason = if let link {
                await connect(link(), outbox: stream, connected: continuation, events: events)
            } else {
                await connect(outbox: stream, connected: continuation, events: events)
            }
            let wasConnected = outbox.withLock { current in
                defer { current = nil }
                return current != nil
            }
            continuation.finish()
            if !attemptedBefore && !wasConnected {
                events(.unreachable(GatewayError("cannot reach the signalling server at \(Redacted.url(url)): \(reason); check --server and that `meshgate serve` runs there")))
                return
            }
            attemptedBefore = true
            if wasConnected {
                events(.disconnected(reason: reason))
                // A server that takes the socket and then closes it (a refusal, a frame it
                // would not take) is not retried at once: the backoff goes on growing.
                if ContinuousClock.now - attempt > Self.steadyConnection { delay = firstDelay }
            }
            if Task.isCancelled { return }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(8))
        }
    }

    /// One WebSocket connection, until it ends; returns why it ended.
    private func connect(outbox stream: AsyncStream<String>, connected continuation: AsyncStream<String>.Continuation,
                         events: @escaping @Sendable (Event) -> Void) async -> String {
        do {
            let close = try await WebSocketClient.connect(
                url: url,
                configuration: .init(maxFrameSize: 1 << 22, autoPing: .enabled(timePeriod: .seconds(20))),
                logger: logger
            ) { inbound, outbound, _ in
                self.outbox.withLock { $0 = continuation }
                events(.connected)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await Self.paced(stream) { try await outbound.write(.text($0)) } }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 22) {
                            if case .text(let text) = message { events(.text(text)) }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            guard let close else { return "closed by the server" }
            return "closed by the server (\(close.closeCode)\(close.reason.map { ": \($0)" } ?? ""))"
        } catch {
            return "\(error)"
        }
    }

    /// One connection in memory, until either side ends it.
    private func connect(_ link: SignallingLink, outbox stream: AsyncStream<String>, connected continuation: AsyncStream<String>.Continuation,
                         events: @escaping @Sendable (Event) -> Void) async -> String {
        outbox.withLock { $0 = continuation }
        events(.connected)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Self.paced(stream) { link.send($0) } }
            group.addTask { for await text in link.inbound { events(.text(text)) } }
            await group.next()
            group.cancelAll()
        }
        link.close()
        return "closed by the server"
    }

    /// Writes what `stream` gives, at most at ``sendRate`` and ``sendByteRate`` (the
    /// server's limits hold for a connection in memory too).
    private static func paced(_ stream: AsyncStream<String>, _ write: (String) async throws -> Void) async throws {
        var pace = TokenBucket(rate: sendRate, burst: sendBurst, now: .now)
        var bytePace = TokenBucket(rate: sendByteRate, burst: sendByteBurst, now: .now)
        for await text in stream {
            let bytes = text.utf8.count
            let wait = max(pace.wait(at: .now), bytePace.wait(for: bytes, at: .now))
            if wait > .zero { try await Task.sleep(for: wait) }
            _ = pace.take(at: .now)
            _ = bytePace.take(bytes, at: .now)
            try await write(text)
        }
    }

    /// A connection that lasted this long worked: the next one after it starts at the first delay.
    static let steadyConnection = Duration.seconds(10)

    /// What we send stays under a server's default rate limit (50 a second, 200 at once): a
    /// gateway joining a big room sends an offer and its candidates to everyone at once, and
    /// a server refuses what comes faster (and closes a socket that keeps on). Frames wait
    /// their turn instead.
    static let sendRate = 40.0
    static let sendBurst = 150
    /// The same for bytes (a server's default: 256 KiB a second, 2 MiB at once).
    static let sendByteRate = 200.0 * 1024
    static let sendByteBurst = 3 << 19

    /// Ends the current connection; `run` then returns once cancelled.
    func close() {
        outbox.withLock { $0?.finish() }
    }
}

/// A connection to a signalling server in the same process (a hub room's hub): frames in
/// memory, no network, no token.
public struct SignallingLink: Sendable {
    let inbound: AsyncStream<String>
    let send: @Sendable (String) -> Void
    let close: @Sendable () -> Void

    public init(inbound: AsyncStream<String>, send: @escaping @Sendable (String) -> Void, close: @escaping @Sendable () -> Void) {
        self.inbound = inbound
        self.send = send
        self.close = close
    }
}
