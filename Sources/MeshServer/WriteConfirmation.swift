import NIOCore
import Synchronization

/// Says how many of a socket's outbox bytes the event loop has written, so that the outbox
/// limit counts what a client has not read. The writer only hands a frame to the loop; a
/// frame counts as sent once the loop has run its write (on a busy loop the frames for a
/// client that does not read would otherwise pile up there, uncounted). One hop to the
/// loop is in flight at a time, not one per frame: a hop per frame cost a third of the
/// relay's rate.
final class WriteConfirmation: Sendable {
    private let loop: any EventLoop
    private let report: @Sendable (Int) -> Void
    /// Bytes of frames whose writes were handed to the loop.
    private let handed = Atomic<Int>(0)
    /// Bytes reported written.
    private let confirmed = Atomic<Int>(0)
    private let hopInFlight = Atomic<Bool>(false)

    init(loop: any EventLoop, report: @escaping @Sendable (Int) -> Void) {
        self.loop = loop
        self.report = report
    }

    /// A frame of `bytes` was handed to the loop (its write is queued there).
    func handed(_ bytes: Int) {
        handed.add(bytes, ordering: .sequentiallyConsistent)
        hopIfNone()
    }

    private func hopIfNone() {
        guard hopInFlight.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else { return }
        // Every frame counted now had its write queued on the loop before this task: when it
        // runs, they have been written.
        let upTo = handed.load(ordering: .sequentiallyConsistent)
        loop.execute { self.confirm(upTo: upTo) }
    }

    private func confirm(upTo bytes: Int) {
        let before = confirmed.exchange(bytes, ordering: .sequentiallyConsistent)
        if bytes > before { report(bytes - before) }
        hopInFlight.store(false, ordering: .sequentiallyConsistent)
        // Frames handed while this hop was on its way get a hop of their own.
        if handed.load(ordering: .sequentiallyConsistent) > bytes { hopIfNone() }
    }
}
