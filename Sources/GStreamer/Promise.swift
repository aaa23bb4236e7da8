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

/// Our reference to a promise, held until the reply or the timeout.
private final class PromiseHandle: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GstPromise>
    init(_ pointer: UnsafeMutablePointer<GstPromise>) { self.pointer = pointer }
    deinit {
        gst_mini_object_unref(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstMiniObject.self))
    }
}

/// The task awaiting a promise, resumed exactly once.
private final class PromiseWaiter: Sendable {
    struct State {
        var continuation: CheckedContinuation<PromiseReply?, Never>?
        var timer: Task<Void, Never>?
        var done = false
    }
    let state = Mutex(State())

    func resume(_ reply: PromiseReply?) {
        let (continuation, timer) = state.withLock { state in
            state.done = true
            defer { state.continuation = nil; state.timer = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(returning: reply)
    }

    func setTimer(_ timer: Task<Void, Never>) {
        let done = state.withLock { state in
            if !state.done { state.timer = timer }
            return state.done
        }
        if done { timer.cancel() }
    }
}

extension Element {
    /// Emits an action that answers through a GstPromise and waits for the reply.
    /// `nil` when the promise is interrupted or takes longer than `timeout`: an element
    /// being torn down may never answer, and the caller must not hang on it.
    func awaitPromise(timeout: Duration = .seconds(10), _ emit: (UnsafeMutablePointer<GstPromise>) -> Void) async -> PromiseReply? {
        let waiter = PromiseWaiter()
        return await withCheckedContinuation { continuation in
            waiter.state.withLock { $0.continuation = continuation }
            let retained = Unmanaged.passRetained(waiter).toOpaque()
            let handle = PromiseHandle(gst_promise_new_with_change_func(promiseChanged, retained, releaseBox))
            emit(handle.pointer)
            waiter.setTimer(Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { gst_promise_interrupt(handle.pointer) }
            })
        }
    }
}

private let promiseChanged: @convention(c) (UnsafeMutablePointer<GstPromise>?, gpointer?) -> Void = { promise, data in
    guard let promise, let data else { return }
    let waiter = Unmanaged<PromiseWaiter>.fromOpaque(data).takeUnretainedValue()
    let replied = gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED
    waiter.resume(replied ? PromiseReply(copying: gst_promise_get_reply(promise)) : nil)
}
