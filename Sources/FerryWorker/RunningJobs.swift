import FerryQueue
import Foundation
import Synchronization

/// The jobs running right now in this process, one per executor slot: what the heartbeat
/// reports as busy and what the watchdog checks against each job's timeout.
final class RunningJobs: Sendable {
    struct Entry: Sendable {
        let fetched: FetchedJob
        let job: Job
        let context: JobContext
        let startedAt: Date
        let deadline: ContinuousClock.Instant
        var cancelled = false
        /// Set by the watchdog when it gave up on the job and recorded its attempt as failed.
        var abandoned = false
    }

    private let slots: Mutex<[Int: Entry]> = Mutex([:])

    func start(slot: Int, fetched: FetchedJob, job: Job, context: JobContext, timeout: Duration) {
        let entry = Entry(fetched: fetched, job: job, context: context, startedAt: Date(), deadline: .now + timeout)
        slots.withLock { $0[slot] = entry }
    }

    /// Clears the slot; returns true if the watchdog had abandoned the job meanwhile.
    func finish(slot: Int) -> Bool {
        slots.withLock { $0.removeValue(forKey: slot)?.abandoned ?? false }
    }

    var busy: [WorkerInfo.BusyJob] {
        slots.withLock { slots in
            slots.values.map { WorkerInfo.BusyJob(id: $0.job.id, type: $0.job.type, queue: $0.job.queue, startedAt: $0.startedAt.timeIntervalSince1970) }
        }
    }

    var count: Int { slots.withLock { $0.count } }

    /// Running jobs that the watchdog has not given up on.
    var activeCount: Int { slots.withLock { $0.values.filter { !$0.abandoned }.count } }

    /// Cancels jobs past their deadline; returns those past deadline + `grace` that ignored it,
    /// marking them abandoned so their threads do not record them again.
    func enforceTimeouts(grace: Duration) -> [Entry] {
        let now = ContinuousClock.now
        var toCancel: [JobContext] = []
        var hung: [Entry] = []
        slots.withLock { slots in
            for (slot, entry) in slots {
                if now >= entry.deadline, !entry.cancelled {
                    slots[slot]?.cancelled = true
                    toCancel.append(entry.context)
                }
                if now >= entry.deadline + grace, !entry.abandoned {
                    slots[slot]?.abandoned = true
                    hung.append(entry)
                }
            }
        }
        for context in toCancel { context.cancel(reason: "timeout") }
        return hung
    }

    /// Cancels every running job (shutdown deadline passed).
    func cancelAll(reason: String) {
        let contexts = slots.withLock { $0.values.map(\.context) }
        for context in contexts { context.cancel(reason: reason) }
    }
}
