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
        case webrtc(PeerID, serial: Int, WebRTCEvent)
        case firstFrame(PeerID, serial: Int)
        /// Time for a recording's streams to have started.
        case recordingDue(PeerID, serial: Int)
        /// The offerer's fallback for a negotiation-needed signal that never came.
        case offerDue(PeerID, serial: Int)
        case bus(BusMessage)
        case sourceEnded
        case stop(reason: String)
        case snapshot(CheckedContinuation<GatewaySnapshot, Never>)
        case statsTick
        /// Time to adapt each peer's own video bitrate (`--encode per-peer`).
        case bitrateTick
        /// Time to see whether anything still comes from each peer.
        case livenessTick
    }

    public let configuration: GatewayConfiguration
    let logger: Logger
    let events: AsyncStream<Event>
    let post: AsyncStream<Event>.Continuation

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
        Task { [post] in
            try? await Task.sleep(for: delay)
            post.yield(event)
        }
    }

    /// The current state, answered by the event loop in turn.
    public func snapshot() async -> GatewaySnapshot {
        await withCheckedContinuation { post.yield(.snapshot($0)) }
    }

    /// Joins the call at `configuration.serverURL` and runs until stopped, the duration
    /// passes, or a file source ends. Throws when the call cannot start or the media fails.
    public func run() async throws(GatewayError) {
        GStreamer.initialize()
        let loop = try GatewayLoop(gateway: self)
        try await loop.run()
    }
}
