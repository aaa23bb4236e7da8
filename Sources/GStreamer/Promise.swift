import CGStreamer
import Synchronization

/// The reply of a GstPromise, copied out of it.
public final class PromiseReply: @unchecked Sendable {
    let structure: UnsafeMutablePointer<GstStructure>?

    init(copying structure: UnsafePointer<GstStructure>?) {
        self.structure = structure.map { gst_structure_copy($0) }
    }

    deinit {
        if let structure { gst_structure_free(structure) }
    }

    /// The error the element put in the reply, if any.
    public var errorText: String? { consume(mg_reply_error_text(structure)) }
}

/// How a promise ended.
public enum PromiseResult: Sendable {
    case replied(PromiseReply)
    /// The task awaiting it was cancelled, or the element dropped it (it is shutting down).
    case interrupted
    /// No reply within the time the caller gave.
    case timedOut

    /// What to tell a user when there was no reply, for `action` ("create an offer").
    func failure(_ action: String) -> GStreamerError? {
        switch self {
        case .replied: nil
        case .interrupted: GStreamerError("webrtcbin did not \(action): interrupted (the peer is being removed, or we are leaving)")
        case .timedOut: GStreamerError("webrtcbin did not \(action) in time")
        }
    }
}

/// Our reference to a promise, interruptible from any thread.
private final class PromiseHandle: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GstPromise>
    init(_ pointer: UnsafeMutablePointer<GstPromise>) { self.pointer = pointer }
    func interrupt() { gst_promise_interrupt(pointer) }
    deinit {
        gst_mini_object_unref(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstMiniObject.self))
    }
}

/// Where the promise's outcome meets the task awaiting it, whichever comes first.
private final class PromiseWaiter: Sendable {
    private struct State {
        var result: PromiseResult?
        var continuation: CheckedContinuation<PromiseResult, Never>?
        var timedOut = false
    }
    private let state = Mutex(State())

    func resolve(replied reply: PromiseReply?) {
        let continuation: CheckedContinuation<PromiseResult, Never>?
        let result: PromiseResult
        (continuation, result) = state.withLock { state in
            let result: PromiseResult = reply.map { .replied($0) } ?? (state.timedOut ? .timedOut : .interrupted)
            guard state.result == nil else { return (nil, result) }
            state.result = result
            defer { state.continuation = nil }
            return (state.continuation, result)
        }
        continuation?.resume(returning: result)
    }

    func markTimedOut() { state.withLock { $0.timedOut = true } }

    func value() async -> PromiseResult {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.result == nil { state.continuation = continuation }
                return state.result
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

extension Element {
    /// Emits an action that answers through a GstPromise and waits for the reply, at most
    /// `timeout`: an element being torn down may never answer, and the caller must not hang
    /// on it. Cancelling the awaiting task interrupts the promise.
    func awaitPromise(timeout: Duration = .seconds(10), _ emit: (UnsafeMutablePointer<GstPromise>) -> Void) async -> PromiseResult {
        let waiter = PromiseWaiter()
        let handle = PromiseHandle(gst_promise_new_with_change_func(promiseChanged, Unmanaged.passRetained(waiter).toOpaque(), releaseBox))
        emit(handle.pointer)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                waiter.markTimedOut()
                handle.interrupt()
            }
            let result = await withTaskCancellationHandler { await waiter.value() } onCancel: { handle.interrupt() }
            group.cancelAll()
            return result
        }
    }
}

private let promiseChanged: @convention(c) (UnsafeMutablePointer<GstPromise>?, gpointer?) -> Void = { promise, data in
    guard let promise, let data else { return }
    let waiter = Unmanaged<PromiseWaiter>.fromOpaque(data).takeUnretainedValue()
    let replied = gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED
    waiter.resolve(replied: replied ? PromiseReply(copying: gst_promise_get_reply(promise)) : nil)
}
