public import FerryQueue
public import Logging
public import Foundation
import Synchronization

/// Enqueues each entry's job on its ticks. Run any number of schedulers on any number of hosts:
/// each (entry, tick) is enqueued exactly once, claimed atomically in Redis. The next tick is
/// always computed from the expression, never by adding up sleeps, so nothing drifts.
public final class Scheduler: Sendable {
    public let entries: [ScheduleEntry]
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let clock: any SchedulerClock
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let plan = Mutex(Plan())

    /// What the scheduler will do next: each entry's next tick, and the entries whose missed
    /// ticks wait for Redis to answer again, each with the time it last failed to reach Redis.
    /// Ticks up to that time were missed and the entry's policy settles them; later ones were
    /// never tried and fire as usual once Redis answers.
    struct Plan {
        var next: [String: Date] = [:]
        var behind: [String: Date] = [:]
    }

    /// How late a tick may still be enqueued (Redis slow to answer); later than this it counts as
    /// missed and the entry's missed-tick policy decides.
    static let lateness: TimeInterval = 10

    /// - Parameter clock: the time source (the wall clock; tests pass a clock they move by hand).
    public init(entries: [ScheduleEntry], dispatcher: Dispatcher, logger: Logger, clock: any SchedulerClock = WallClock()) {
        self.entries = entries.filter(\.enabled)
        self.dispatcher = dispatcher
        self.logger = logger
        self.clock = clock
    }

    public func stop() {
        if !stopping.exchange(true, ordering: .sequentiallyConsistent) { wake.signal() }
    }

    /// Runs until ``stop()``: ``start()``, then ``runDue()`` whenever something is due.
    public func run() {
        logger.info("scheduler started", metadata: ["entries": "\(entries.map(\.name).joined(separator: ","))"])
        start()
        while !stopping.load(ordering: .relaxed) {
            let wakeAt = runDue()
            guard !stopping.load(ordering: .relaxed) else { break }
            clock.sleep(until: wakeAt, wake: wake)
        }
        logger.info("scheduler stopped")
    }

    /// Settles the ticks missed while no scheduler ran (each entry's policy) and plans the next
    /// tick of every entry.
    public func start() {
        let startedAt = clock.now
        var fresh = Plan()
        for entry in entries {
            // Entries whose last tick could not be read (Redis down): their missed ticks are
            // settled by their missed-tick policy as soon as Redis answers again.
            if !catchUp(entry, missedUpTo: nil) { fresh.behind[entry.name] = clock.now }
            fresh.next[entry.name] = entry.schedule.next(after: startedAt)
        }
        plan.withLock { $0 = fresh }
    }

    /// Enqueues every tick that is due by the clock, exactly once across schedulers, and returns
    /// when to look again.
    @discardableResult
    public func runDue() -> Date {
        var current = plan.withLock { $0 }
        if !current.behind.isEmpty {
            for entry in entries {
                guard let failedAt = current.behind[entry.name] else { continue }
                guard catchUp(entry, missedUpTo: failedAt) else {
                    current.behind[entry.name] = clock.now
                    continue
                }
                // The ticks up to the last failure were settled by the policy; the schedule
                // resumes after it (a tick since then is due now and fires below).
                current.behind[entry.name] = nil
                current.next[entry.name] = entry.schedule.next(after: failedAt)
            }
        }
        let now = clock.now
        var redisDown = false
        for entry in entries {
            guard let due = current.next[entry.name], due <= now else { continue }
            // The latest tick that is due fires; any older ones were missed (a stall) and
            // collapse into it.
            let tick = entry.schedule.previous(atOrBefore: now, notBefore: due) ?? due
            current.next[entry.name] = entry.schedule.next(after: now)
            guard current.behind[entry.name] == nil else { continue }
            // Once Redis has failed one entry, the others would only wait out their own
            // reconnect windows and fire later still: their policies decide instead.
            if redisDown || clock.now.timeIntervalSince(tick) > Self.lateness || !fire(entry, tick: tick) {
                redisDown = true
                current.behind[entry.name] = clock.now
            }
        }
        plan.withLock { $0 = current }
        let soonest = current.next.values.min() ?? now.addingTimeInterval(3600)
        // While entries are behind, look again every second for Redis to come back.
        return current.behind.isEmpty ? soonest : min(soonest, now.addingTimeInterval(1))
    }

    /// Applies the entry's missed-tick policy to ticks that passed while no scheduler ran (up to
    /// now: `missedUpTo` nil), or while Redis did not answer (up to the last failed attempt).
    /// False when Redis still does not answer (try again later).
    private func catchUp(_ entry: ScheduleEntry, missedUpTo failedAt: Date?) -> Bool {
        let lastFired: Date?
        let now: Date
        do {
            lastFired = try dispatcher.lastTick(entry: entry.name, queue: queue(of: entry))
            // Missed is what passed by the last failure, or (no scheduler ran) by the time the
            // read returned, which may have waited for Redis to come back.
            now = failedAt ?? clock.now
        } catch {
            logger.error("cannot read the last tick; missed ticks will be settled by the entry's policy once Redis answers",
                         metadata: ["entry": "\(entry.name)", "error": "\(error)"])
            return false
        }
        guard let last = lastFired,
              let missed = entry.schedule.previous(atOrBefore: now, notBefore: last.addingTimeInterval(1)), missed > last
        else { return true }
        switch entry.missed {
        case .skip:
            logger.notice("skipping ticks missed while no scheduler ran", metadata: [
                "entry": "\(entry.name)", "last_fired": "\(last.formatted(.iso8601))", "latest_missed": "\(missed.formatted(.iso8601))",
            ])
        case .runOnce:
            logger.notice("running once for ticks missed while no scheduler ran", metadata: ["entry": "\(entry.name)"])
            return fire(entry, tick: missed)
        }
        return true
    }

    /// Enqueues the entry's job for `tick`; false when Redis did not answer within its reconnect
    /// window (a tick is enqueued late when Redis comes back within it, else the entry's
    /// missed-tick policy decides). A call on a connection that broke fails at once and the next
    /// one reconnects, so one failure is retried straight away.
    @discardableResult
    private func fire(_ entry: ScheduleEntry, tick: Date) -> Bool {
        let request = Dispatcher.JobRequest(type: entry.jobType, args: entry.args, options: EnqueueOptions(queue: entry.queue))
        do {
            let enqueued: Bool
            do {
                enqueued = try dispatcher.enqueue(request, entry: entry.name, tick: tick)
            } catch {
                enqueued = try dispatcher.enqueue(request, entry: entry.name, tick: tick)
            }
            if enqueued {
                logger.info("enqueued", metadata: ["entry": "\(entry.name)", "tick": "\(tick.formatted(.iso8601))", "job_type": "\(entry.jobType)"])
            } else {
                logger.debug("tick already enqueued by another scheduler", metadata: ["entry": "\(entry.name)", "tick": "\(tick.formatted(.iso8601))"])
            }
            return true
        } catch {
            logger.error("cannot enqueue a tick; the entry's missed-tick policy settles it once Redis answers",
                         metadata: ["entry": "\(entry.name)", "error": "\(error)"])
            return false
        }
    }

    private func queue(of entry: ScheduleEntry) -> String {
        entry.queue ?? dispatcher.defaultQueue(for: entry.jobType)
    }
}
