import FerryQueue
import Foundation
import Synchronization

/// Per-executor state, one lock per slot so executors never contend with each other: the job
/// running now (what the heartbeat reports as busy and the watchdog checks against its timeout).
/// What an executor holds in flight needs no mirror here: each executor has in-flight lists of
/// its own in Redis, and puts back whatever is left in them.
final class ExecutorSlots: Sendable {
    struct Running: Sendable {
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
        let running = Mutex<Running?>(nil)
    }

    private let slots: [Slot]

    init(count: Int) {
        slots = (0..<count).map { _ in Slot() }
    }

    // MARK: Running job

    func start(slot: Int, fetched: FetchedJob, job: Job, context: JobContext, timeout: Duration) {
        let entry = Running(fetched: fetched, job: job, context: context, startedAt: Date(), deadline: .now + timeout)
        slots[slot].running.withLock { $0 = entry }
    }

    /// Clears the slot; returns true if the watchdog had abandoned the job meanwhile.
    func finish(slot: Int) -> Bool {
        slots[slot].running.withLock { running in
            defer { running = nil }
            return running?.abandoned ?? false
        }
    }

    var busy: [WorkerInfo.BusyJob] {
        slots.compactMap { slot in
            slot.running.withLock { running in
                running.map { entry in
                    WorkerInfo.BusyJob(
                        id: entry.job.id, type: entry.job.type, queue: entry.job.queue, startedAt: entry.startedAt.timeIntervalSince1970,
                        progress: entry.context.progress.map { .init(done: $0.done, total: $0.total, message: $0.message) }
                    )
                }
            }
        }
    }

    var runningCount: Int { slots.reduce(0) { $0 + ($1.running.withLock { $0 == nil } ? 0 : 1) } }

    /// Running jobs that the watchdog has not given up on.
    var activeCount: Int { slots.reduce(0) { $0 + ($1.running.withLock { $0.map { $0.abandoned ? 0 : 1 } ?? 0 }) } }

    /// Cancels jobs past their deadline; returns those past deadline + `grace` that ignored it,
    /// marking them abandoned so their threads do not record them again.
    func enforceTimeouts(grace: Duration) -> [Running] {
        let now = ContinuousClock.now
        var hung: [Running] = []
        for slot in slots {
            var toCancel: JobContext?
            slot.running.withLock { running in
                guard let entry = running else { return }
                if now >= entry.deadline, !entry.cancelled {
                    running?.cancelled = true
                    toCancel = entry.context
                }
                if now >= entry.deadline + grace, !entry.abandoned {
                    running?.abandoned = true
                    hung.append(entry)
                }
            }
            toCancel?.cancel(reason: "timeout")
        }
        return hung
    }

    /// Cancels every running job (shutdown deadline passed).
    func cancelAll(reason: String) {
        for slot in slots {
            slot.running.withLock { $0?.context }?.cancel(reason: reason)
        }
    }
}
