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
    ///
    /// The tasks are the loop's lanes, kept from one call to the next: a lane waits for its next
    /// operation in a continuation, so a job costs no task creation (a task, its first stack slab,
    /// its executor preference record). A lane whose task was cancelled ends with its operation.
    /// The operation and what it calls are `nonisolated(nonsending)`: they run on the lane's
    /// executor, this loop, without an executor switch on each call and return.
    func runTogether<Value>(
        count: Int, pipeline: RedisTaskPipeline?,
        _ operation: nonisolated(nonsending) @escaping @Sendable (_ index: Int, _ cancelTask: @escaping @Sendable () -> Void) async -> Value
    ) -> [Value] {
        let batch = Batch(count: count, operation)
        pipeline?.begin()
        for index in 0..<count {
            let work = Lane.Work(batch: batch, index: index)
            if let waiting = idleLanes.withLock({ $0.popLast() }) {
                waiting.resume(returning: work)
            } else {
                Lane.start(on: self, with: work)
            }
        }
        drive(until: { batch.finished }, pipeline: pipeline)
        pipeline?.end()
        drive(until: { true }, pipeline: nil)  // whatever the last flush resumed
        return batch.values
    }

    /// Runs one attempt to its end on the calling thread (a suspect, a type with a concurrency
    /// limit): its Redis commands go over the process's shared connection.
    static func runAlone<Value>(_ operation: nonisolated(nonsending) @escaping @Sendable (_ cancelTask: @escaping @Sendable () -> Void) async -> Value) -> Value {
        let loop = JobLoop()
        defer { loop.close() }
        return loop.runTogether(count: 1, pipeline: nil) { _, cancel in await operation(cancel) }[0]
    }

    /// Ends the waiting lanes (call it from the loop's thread when it is done with the loop).
    func close() {
        for waiting in idleLanes.withLock({ lanes in defer { lanes = [] }; return lanes }) { waiting.resume(returning: nil) }
        drive(until: { true }, pipeline: nil)
    }

    /// Lanes waiting for their next operation.
    private let idleLanes = Mutex<[UnsafeContinuation<Lane.Work?, Never>]>([])

    /// A long-lived task of the loop: it runs one operation after another, waiting in between.
    private final class Lane: Sendable {
        /// Index `index` of `batch`.
        struct Work: Sendable {
            let batch: any LaneBatch
            let index: Int
        }

        /// Held strongly: a waiting lane is resumed only by its loop, which ``close()`` ends.
        private let loop: JobLoop
        /// The lane's task, how many operations it began, and whether its task was cancelled.
        private let state = Mutex<(task: Task<Void, Never>?, operation: Int, cancelled: Bool)>((nil, 0, false))

        init(loop: JobLoop) {
            self.loop = loop
        }

        /// Starts the lane's task with its first operation.
        static func start(on loop: JobLoop, with work: Work) {
            let lane = Lane(loop: loop)
            let task = Task(executorPreference: loop) { await lane.run(first: work) }
            lane.state.withLock { $0.task = task }
        }

        private nonisolated(nonsending) func run(first: Work) async {
            var next: Work? = first
            while let work = next {
                let operation = state.withLock { state in
                    state.operation += 1
                    return state.operation
                }
                // Cancels this operation only: a late call for an earlier one does nothing.
                await work.batch.run(index: work.index) { [self] in cancel(operation: operation) }
                // A cancelled task stays cancelled: the lane ends with the operation it was cancelled in.
                if Task.isCancelled { return }
                next = await withUnsafeContinuation { continuation in
                    loop.idleLanes.withLock { $0.append(continuation) }
                }
            }
        }

        private func cancel(operation: Int) {
            state.withLock { state -> Task<Void, Never>? in
                guard state.operation == operation, !state.cancelled else { return nil }
                state.cancelled = true
                return state.task
            }?.cancel()
        }
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

    /// The operation of one ``runTogether(count:pipeline:_:)`` and the values of its runs.
    private final class Batch<Value>: LaneBatch, @unchecked Sendable {
        // @unchecked Sendable: `slots` and `missing` are touched under `lock` only.
        private let operation: nonisolated(nonsending) @Sendable (_ index: Int, _ cancelTask: @escaping @Sendable () -> Void) async -> Value
        private let lock = Mutex(())
        private var slots: [Value?]
        private var missing: Int

        init(count: Int, _ operation: nonisolated(nonsending) @escaping @Sendable (_ index: Int, _ cancelTask: @escaping @Sendable () -> Void) async -> Value) {
            self.operation = operation
            slots = Array(repeating: nil, count: count)
            missing = count
        }

        nonisolated(nonsending) func run(index: Int, cancelTask: @escaping @Sendable () -> Void) async {
            let value = await operation(index, cancelTask)
            lock.withLock { _ in
                slots[index] = value
                missing -= 1
            }
        }

        var finished: Bool { lock.withLock { _ in missing == 0 } }

        var values: [Value] { lock.withLock { _ in slots.map { $0! } } }
    }
}

/// What a lane runs: one index of a batch, whatever the batch's values are.
private protocol LaneBatch: AnyObject, Sendable {
    nonisolated(nonsending) func run(index: Int, cancelTask: @escaping @Sendable () -> Void) async
}
