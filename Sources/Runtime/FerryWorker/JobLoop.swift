import FerryRedis
import Foundation
import Synchronization

/// Runs async attempts (``AsyncJobHandler``) as tasks on the thread that calls it, many at once:
/// a task executor whose queue only that thread drains. When every task waits, the thread sends
/// their buffered Redis commands in one write, reads the replies and resumes the tasks
/// (``RedisTaskPipeline``); when they wait on something else (a sleep, another thread), it sleeps
/// until one of them is resumed. Handing a job from task to task takes no system call.
final class JobLoop: TaskExecutor, Sendable {
    private struct State {
        var runnable: [UnownedJob] = []
        var sleeping = false
    }

    private let state = Mutex(State())
    /// Signalled (under its own lock) when work arrives for a loop that sleeps.
    private let condition = NSCondition()

    init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let sleeping = state.withLock { state in
            state.runnable.append(job)
            return state.sleeping
        }
        if sleeping { signal() }
    }

    /// Called when a task buffered a Redis command: a sleeping loop has something to flush.
    func wake() {
        if state.withLock({ $0.sleeping }) { signal() }
    }

    private func signal() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    /// Runs `operation` for each index `0..<count` as tasks on this thread, all at once, and returns
    /// their values in index order once every one has finished. `operation` gets a closure that
    /// cancels its task. Redis commands sent through `pipeline` while they run are flushed by
    /// this thread whenever no task can go on.
    func runTogether<Value>(
        count: Int, pipeline: RedisTaskPipeline?,
        _ operation: @escaping @Sendable (_ index: Int, _ cancelTask: @escaping @Sendable () -> Void) async -> Value
    ) -> [Value] {
        let results = Results<Value>(count: count)
        pipeline?.begin()
        for index in 0..<count {
            let handle = TaskHandle()
            let task = Task(executorPreference: self) {
                results.set(index, await operation(index, handle.cancel))
            }
            handle.hold(task)
        }
        drive(until: { results.allSet }, pipeline: pipeline)
        pipeline?.end()
        drive(until: { true }, pipeline: nil)  // whatever the last flush resumed
        return results.values
    }

    /// Runs one attempt to its end on the calling thread (a suspect, a type with a concurrency
    /// limit): its Redis commands go over the process's shared connection.
    static func runAlone<Value>(_ operation: @escaping @Sendable (_ cancelTask: @escaping @Sendable () -> Void) async -> Value) -> Value {
        JobLoop().runTogether(count: 1, pipeline: nil) { _, cancel in await operation(cancel) }[0]
    }

    private func drive(until done: () -> Bool, pipeline: RedisTaskPipeline?) {
        let executor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            state.withLock { swap(&batch, &$0.runnable) }
            for job in batch { job.runSynchronously(on: executor) }
            let ranSome = !batch.isEmpty
            batch.removeAll(keepingCapacity: true)
            if done() { return }
            if ranSome { continue }
            if let pipeline, pipeline.hasPending {
                pipeline.flush()
                continue
            }
            // Every task waits on something else: sleep until one is resumed or buffers a command.
            condition.lock()
            let idle = state.withLock { state in
                guard state.runnable.isEmpty, !(pipeline?.hasPending ?? false) else { return false }
                state.sleeping = true
                return true
            }
            if idle {
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
                state.withLock { $0.sleeping = false }
            }
            condition.unlock()
        }
    }

    /// The values of the tasks of one ``runTogether(count:pipeline:_:)``.
    private final class Results<Value>: @unchecked Sendable {
        // @unchecked Sendable: `values` and `missing` are touched under `lock` only.
        private let lock = NSLock()
        private var slots: [Value?]
        private var missing: Int

        init(count: Int) {
            slots = Array(repeating: nil, count: count)
            missing = count
        }

        func set(_ index: Int, _ value: Value) {
            lock.lock()
            slots[index] = value
            missing -= 1
            lock.unlock()
        }

        var allSet: Bool {
            lock.lock()
            defer { lock.unlock() }
            return missing == 0
        }

        var values: [Value] { slots.map { $0! } }
    }

    /// A task, to be cancelled from a closure made before the task existed.
    private final class TaskHandle: Sendable {
        private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

        func hold(_ task: Task<Void, Never>) {
            let cancelled = state.withLock { state in
                state.task = task
                return state.cancelled
            }
            if cancelled { task.cancel() }
        }

        func cancel() {
            state.withLock { state in
                state.cancelled = true
                return state.task
            }?.cancel()
        }
    }
}
