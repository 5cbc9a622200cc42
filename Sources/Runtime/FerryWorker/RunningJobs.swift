import FerryQueue
import Foundation
import Synchronization

/// Per-executor state, one lock per slot so executors never contend with each other: the jobs
/// running now (what the heartbeat reports as busy and the watchdog checks against their
/// timeouts) — one, or several async attempts running together.
/// What an executor holds in flight needs no mirror here: each executor has in-flight lists of
/// its own in Redis, and puts back whatever is left in them.
final class ExecutorSlots: Sendable {
    struct Running: Sendable {
        let token: Int
        let fetched: FetchedJob
        let job: Job
        let context: JobContext
        let startedAt: Date
        let deadline: ContinuousClock.Instant
        var cancelled = false
        /// Set by the watchdog when it gave up on the job and recorded its attempt as failed.
        var abandoned = false
    }

    final class Slot: Sendable {
        struct State {
            var running: [Running] = []
            var nextToken = 0
        }
        let state = Mutex(State())
    }

    private let slots: [Slot]

    init(count: Int) {
        slots = (0..<count).map { _ in Slot() }
    }

    // MARK: Running job

    /// Notes that executor `slot` started `job`; returns the token that ends it (``finish(slot:token:)``).
    func start(slot: Int, fetched: FetchedJob, job: Job, context: JobContext, timeout: Duration) -> Int {
        slots[slot].state.withLock { state in
            state.nextToken &+= 1
            state.running.append(Running(
                token: state.nextToken, fetched: fetched, job: job, context: context, startedAt: Date(), deadline: .now + timeout))
            return state.nextToken
        }
    }

    /// Forgets the job of `token`; returns true if the watchdog had abandoned it meanwhile.
    func finish(slot: Int, token: Int) -> Bool {
        slots[slot].state.withLock { state in
            guard let index = state.running.firstIndex(where: { $0.token == token }) else { return false }
            // Order does not matter here; moving the last entry in avoids shifting them all.
            state.running.swapAt(index, state.running.count - 1)
            return state.running.removeLast().abandoned
        }
    }

    var busy: [WorkerInfo.BusyJob] {
        slots.flatMap { slot in
            slot.state.withLock { state in
                state.running.map { entry in
                    WorkerInfo.BusyJob(
                        id: entry.job.id, type: entry.job.type, queue: entry.job.queue, startedAt: entry.startedAt.timeIntervalSince1970,
                        progress: entry.context.progress.map { .init(done: $0.done, total: $0.total, message: $0.message) }
                    )
                }
            }
        }
    }

    var runningCount: Int { slots.reduce(0) { $0 + $1.state.withLock { $0.running.count } } }

    /// Running jobs that the watchdog has not given up on.
    var activeCount: Int { slots.reduce(0) { $0 + $1.state.withLock { $0.running.count { !$0.abandoned } } } }

    /// Cancels jobs past their deadline; returns those past deadline + `grace` that ignored it,
    /// marking them abandoned so their threads do not record them again.
    func enforceTimeouts(grace: Duration) -> [Running] {
        let now = ContinuousClock.now
        var hung: [Running] = []
        for slot in slots {
            var toCancel: [JobContext] = []
            slot.state.withLock { state in
                for index in state.running.indices {
                    let entry = state.running[index]
                    if now >= entry.deadline, !entry.cancelled {
                        state.running[index].cancelled = true
                        toCancel.append(entry.context)
                    }
                    if now >= entry.deadline + grace, !entry.abandoned {
                        state.running[index].abandoned = true
                        hung.append(entry)
                    }
                }
            }
            for context in toCancel { context.cancel(reason: "timeout") }
        }
        return hung
    }

    /// Cancels every running job (shutdown deadline passed).
    func cancelAll(reason: String) {
        for slot in slots {
            for context in slot.state.withLock({ $0.running.map(\.context) }) { context.cancel(reason: reason) }
        }
    }
}
