public import FerryQueue
public import Logging
import Foundation
import Synchronization

/// Enqueues each entry's job on its ticks. Run any number of schedulers on any number of hosts:
/// each (entry, tick) is enqueued exactly once, claimed atomically in Redis. The next tick is
/// always computed from the expression, never by adding up sleeps, so nothing drifts.
public final class Scheduler: Sendable {
    public let entries: [ScheduleEntry]
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    public init(entries: [ScheduleEntry], dispatcher: Dispatcher, logger: Logger) {
        self.entries = entries.filter(\.enabled)
        self.dispatcher = dispatcher
        self.logger = logger
    }

    public func stop() {
        if !stopping.exchange(true, ordering: .sequentiallyConsistent) { wake.signal() }
    }

    /// Runs until ``stop()``.
    public func run() {
        logger.info("scheduler started", metadata: ["entries": "\(entries.map(\.name).joined(separator: ","))"])
        var next: [String: Date] = [:]
        let startedAt = Date()
        for entry in entries {
            catchUp(entry, now: startedAt)
            next[entry.name] = entry.schedule.next(after: startedAt)
        }
        while !stopping.load(ordering: .relaxed) {
            guard let soonest = next.values.min() else {
                _ = wake.wait(timeout: .now() + 3600)
                continue
            }
            let wait = soonest.timeIntervalSinceNow
            if wait > 0 {
                _ = wake.wait(timeout: .now() + wait)
                continue
            }
            let now = Date()
            for entry in entries {
                guard let due = next[entry.name], due <= now else { continue }
                // The latest tick that is due fires; any older ones were missed (a stall) and
                // collapse into it.
                let tick = entry.schedule.previous(atOrBefore: now, notBefore: due) ?? due
                fire(entry, tick: tick)
                next[entry.name] = entry.schedule.next(after: now)
            }
        }
        logger.info("scheduler stopped")
    }

    /// Applies the entry's missed-tick policy to ticks that passed while no scheduler ran.
    private func catchUp(_ entry: ScheduleEntry, now: Date) {
        let lastFired: Date?
        do {
            lastFired = try dispatcher.lastTick(entry: entry.name, queue: queue(of: entry))
        } catch {
            logger.error("cannot read the last tick; missed ticks are not caught up", metadata: ["entry": "\(entry.name)", "error": "\(error)"])
            return
        }
        guard let last = lastFired,
              let missed = entry.schedule.previous(atOrBefore: now, notBefore: last.addingTimeInterval(1)), missed > last
        else { return }
        switch entry.missed {
        case .skip:
            logger.notice("skipping ticks missed while no scheduler ran", metadata: [
                "entry": "\(entry.name)", "last_fired": "\(last.formatted(.iso8601))", "latest_missed": "\(missed.formatted(.iso8601))",
            ])
        case .runOnce:
            logger.notice("running once for ticks missed while no scheduler ran", metadata: ["entry": "\(entry.name)"])
            fire(entry, tick: missed)
        }
    }

    private func fire(_ entry: ScheduleEntry, tick: Date) {
        let request = Dispatcher.JobRequest(type: entry.jobType, args: entry.args, options: EnqueueOptions(queue: entry.queue))
        do {
            if try dispatcher.enqueue(request, entry: entry.name, tick: tick) {
                logger.info("enqueued", metadata: ["entry": "\(entry.name)", "tick": "\(tick.formatted(.iso8601))", "job_type": "\(entry.jobType)"])
            } else {
                logger.debug("tick already enqueued by another scheduler", metadata: ["entry": "\(entry.name)", "tick": "\(tick.formatted(.iso8601))"])
            }
        } catch {
            logger.error("cannot enqueue a tick; it is retried on the next one", metadata: ["entry": "\(entry.name)", "error": "\(error)"])
        }
    }

    private func queue(of entry: ScheduleEntry) -> String {
        entry.queue ?? dispatcher.defaultQueue(for: entry.jobType)
    }
}
