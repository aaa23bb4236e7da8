/// Work the gateway starts and does not wait for (its timers, rounds of statistics): each
/// runs as a child task of the gateway's `run()`, and is cancelled when it returns.
final class ChildTasks: Sendable {
    private let work: AsyncStream<@Sendable () async -> Void>
    private let queue: AsyncStream<@Sendable () async -> Void>.Continuation

    init() {
        (work, queue) = AsyncStream.makeStream()
    }

    func spawn(_ body: @escaping @Sendable () async -> Void) {
        queue.yield(body)
    }

    /// Runs `body` once `delay` has passed, unless cancelled first.
    func after(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
        spawn {
            try? await Task.sleep(for: delay)
            if !Task.isCancelled { body() }
        }
    }

    /// Runs everything spawned until the calling task is cancelled; then cancels what runs.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await body in work {
                group.addTask(operation: body)
            }
        }
    }
}
