import Foundation
import GStreamer
import Logging
import MeshProtocol

/// One participant of a mesh call: one pipeline, one encoder per kind, one
/// webrtcbin per remote id. Every callback (GStreamer or WebSocket) only puts an
/// event into one stream; `run()` applies them in order.
public final class Gateway: Sendable {
    enum Event: Sendable {
        case signalling(SignallingClient.Event)
        /// Something for one connection: routed by id, dropped when `serial` is not the current one's.
        case peer(PeerID, serial: Int, PeerEvent)
        case bus(BusMessage)
        case sourceEnded
        /// A network source dropped (its end, or an error in it): it is opened again.
        case sourceLost(name: String, reason: String)
        /// Time to open a dropped network source again.
        case sourceRetry(name: String)
        /// A source `meshgate ctl source` switched in ended (the name of its bin).
        case switchedSourceEnded(bin: String)
        case stop(reason: String)
        case snapshot(CheckedContinuation<GatewaySnapshot?, Never>)
        /// `meshgate ctl`, answered in turn.
        case control(ControlCommand, CheckedContinuation<ControlReply, Never>)
        case tick(Tick)
        /// A round of statistics for every peer has ended; the next may be scheduled.
        case statisticsDone(StatisticsUse)
        /// Time to send `new_user` again, after the server refused it for a while.
        case registerAgain
        /// Time to offer a peer whose network went away a new connection.
        case reconnectPeer(PeerID, attempt: Int)
        /// A line of stdin to say on every chat channel (`--chat`); nil at its end.
        case chatLine(String?)
    }

    enum Tick: Sendable {
        /// Time for `--stats` lines.
        case report
        /// Time to adapt each peer's own video bitrate (`--encode per-peer`).
        case bitrate
        /// Time to see whether anything still comes from each peer.
        case liveness
        /// Time to see whether each network source still delivers.
        case sources
        /// Time to measure each peer's traffic (`--metrics`, `--control`).
        case traffic
    }

    public let configuration: GatewayConfiguration
    let logger: Logger
    let events: AsyncStream<Event>
    let post: AsyncStream<Event>.Continuation
    /// The gateway's timers and background rounds, children of `run()`.
    let children = ChildTasks()

    public init(configuration: GatewayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (events, post) = AsyncStream.makeStream(of: Event.self)
    }

    /// Leaves the call: close_connection, recordings finalised, pipeline stopped. `run()` then returns.
    public func stop(reason: String = "stopped") {
        post.yield(.stop(reason: reason))
    }

    /// Posts `event` to the event loop once `delay` has passed.
    func post(_ event: Event, after delay: Duration) {
        children.after(delay) { [post] in post.yield(event) }
    }

    /// The current state, answered by the event loop in turn; nil once the gateway has
    /// stopped (or failed to start): nothing waits on a gateway that is gone.
    public func snapshot() async -> GatewaySnapshot? {
        await withCheckedContinuation { continuation in
            if case .terminated = post.yield(.snapshot(continuation)) { continuation.resume(returning: nil) }
        }
    }

    /// Does what `meshgate ctl` asks, in turn with everything else the gateway does.
    public func control(_ command: ControlCommand) async -> ControlReply {
        await withCheckedContinuation { continuation in
            if case .terminated = post.yield(.control(command, continuation)) { continuation.resume(returning: .refused("the gateway has stopped")) }
        }
    }

    /// Joins the call at `configuration.serverURL` and runs until stopped, the duration
    /// passes, or a file source ends. Throws when the call cannot start or the media fails.
    public func run() async throws(GatewayError) {
        var failure: GatewayError?
        do throws(GatewayError) {
            GStreamer.initialize()
            try await GatewayLoop(gateway: self).run()
        } catch {
            failure = error
        }
        // Nothing may wait on the stream once no loop reads it.
        post.finish()
        for await event in events {
            switch event {
            case .snapshot(let continuation): continuation.resume(returning: nil)
            case .control(_, let continuation): continuation.resume(returning: .refused("the gateway has stopped"))
            default: break
            }
        }
        if let failure { throw failure }
    }
}
