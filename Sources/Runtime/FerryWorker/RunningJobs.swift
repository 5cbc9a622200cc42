import FerryQueue
import Foundation
import Synchronization

/// Per-job thread state, one lock per slot so job threads never contend with each other: the jobs
/// running now (what the heartbeat reports as busy and the watchdog checks against their
/// timeouts) — one, or several async attempts running together.
/// What a job thread holds in flight needs no mirror here: each job thread has in-flight lists of
/// its own in Redis, and puts back whatever is left in them.
final class ExecutorSlots: Sendable {
    struct Running: Sendable {
        let token: Int
        let fetched: FetchedJob
        let context: JobContext
        let startedAt: Date
        let deadline: ContinuousClock.Instant
        var cancelled = false
        /// Set by the watchdog when it gave up on the job and recorded its attempt as failed.
        var abandoned = false
        /// Set when the attempt ended (the entry stays until its slot runs nothing).
        var finished = false

        var job: Job { context.job }
    }

    final class Slot: Sendable {
        /// Entries are marked finished rather than removed, and dropped together once none
        /// runs: the entry of token `t` is at `t - base`, found without a search.
        struct State {
            var running: [Running] = []
            var base = 0
            var live = 0
            var nextToken = 0
        }
        let state = Mutex(State())
    }

    private let slots: [Slot]

    init(count: Int) {
        slots = (0..<count).map { _ in Slot() }
    }

    // MARK: Running job

    /// Notes that job thread `slot` started `job`; returns the token that ends it (``finish(slot:token:)``).
    func start(slot: Int, fetched: FetchedJob, context: JobContext, timeout: Duration) -> Int {
        slots[slot].state.withLock { state in
            if state.live == 0 {
                state.running.removeAll(keepingCapacity: true)
                state.base = state.nextToken
            }
            let token = state.nextToken
            state.nextToken += 1
            state.live += 1
            state.running.append(Running(token: token, fetched: fetched, context: context, startedAt: Date(), deadline: .now + timeout))
            return token
        }
    }

    /// Forgets the job of `token`; returns true if the watchdog had abandoned it meanwhile.
    func finish(slot: Int, token: Int) -> Bool {
        slots[slot].state.withLock { state in
            let index = token - state.base
            guard state.running.indices.contains(index), !state.running[index].finished else { return false }
            state.running[index].finished = true
            state.live -= 1
            return state.running[index].abandoned
        }
    }

    var busy: [WorkerInfo.BusyJob] {
        slots.flatMap { slot in
            slot.state.withLock { state in
                state.running.filter { !$0.finished }.map { entry in
                    WorkerInfo.BusyJob(
                        id: entry.job.id, type: entry.job.type, queue: entry.job.queue, startedAt: entry.startedAt.timeIntervalSince1970,
                        progress: entry.context.progress.map { .init(done: $0.done, total: $0.total, message: $0.message) }
                    )
                }
            }
        }
    }

    var runningCount: Int { slots.reduce(0) { $0 + $1.state.withLock { $0.live } } }

    /// Running jobs that the watchdog has not given up on.
    var activeCount: Int { slots.reduce(0) { $0 + $1.state.withLock { $0.running.count { !$0.finished && !$0.abandoned } } } }

    /// Cancels jobs past their deadline; returns those past deadline + `grace` that ignored it,
    /// marking them abandoned so their threads do not record them again.
    func enforceTimeouts(grace: Duration) -> [Running] {
        let now = ContinuousClock.now
        var hung: [Running] = []
        for slot in slots {
            var toCancel: [JobContext] = []
            slot.state.withLock { state in
                for index in state.running.indices where !state.running[index].finished {
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
            for context in slot.state.withLock({ $0.running.filter { !$0.finished }.map(\.context) }) { context.cancel(reason: reason) }
        }
    }
}
