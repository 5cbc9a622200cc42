package import FerryQueue
package import FerryRedis
package import Logging
import FerrySupport
import Foundation
import Synchronization

/// One worker process: `concurrency` job threads (``JobThread``) that fetch and run jobs, and
/// ``Housekeeping`` for the heartbeat, due-job promotion, the pause view, recovery of dead
/// workers and the timeout watchdog.
///
/// ``run()`` blocks until ``stop()`` (SIGTERM/SIGINT), then drains: no new fetches, running jobs
/// get up to the shutdown timeout, anything unfinished goes back to the front of its queue.
package final class WorkerProcess: Sendable {
    /// Why ``run()`` returned, as the process exit code.
    public enum Exit: Int32, Sendable {
        /// Stopped on request, everything drained or put back.
        case stopped = 0
        /// A job ignored its timeout; the process must be replaced (the supervisor restarts it).
        case recycle = 75
    }

    public let id: String
    public let options: WorkerOptions
    let keys: QueueKeyspace
    let redisConfiguration: RedisConfiguration
    let registry: JobRegistry
    let services: JobServices
    let logger: Logger
    let slots: ExecutorSlots
    /// Per-type outcomes, one tally per job thread, added to Redis (``TypeHealth``) with each heartbeat.
    let tallies: [OutcomeTally]
    let limits: TypeLimits
    let gate = IsolationGate()
    /// Which idle job thread waits in Redis, and where the others sleep.
    let idleFetch = IdleFetch()
    let settler: Settler
    /// Enqueues from inside the worker: chained jobs, batch additions, jobs that enqueue jobs.
    let dispatcher: Dispatcher
    /// The rate limiters of the types that have one, by type.
    let limiters: [String: RateLimiter]
    /// Finished jobs whose acknowledgements are not written yet, for the supervisor to read if
    /// this process dies; nil when it cannot be created (then every job is acknowledged alone).
    let ackLedger: AckLedger?
    /// What brings jobs in from other brokers, a thread each.
    let ingresses: [any JobIngress]
    /// Told how the attempts of jobs that came through an ingress ended.
    let observers: [any JobOutcomeObserver]

    private let stopping = Atomic<Bool>(false)
    private let quiet = Atomic<Bool>(false)
    /// Broadcast when quiet mode ends or the process stops: job threads wait on it while quiet.
    private let fetching = NSCondition()
    private let recycling = Atomic<Bool>(false)
    private let stopSignal = DispatchSemaphore(value: 0)
    /// Queues paused now, as last read by housekeeping.
    let paused = Mutex<Set<String>>([])
    /// Settlements decided outside a job thread (the watchdog) and not yet written.
    let pendingSettlements = Mutex<[(FetchedJob, Settlement)]>([])
    let startedAt = Date()
    private let lastDeadSetWarning = Atomic<Int64>(0)

    public init(
        options: WorkerOptions, keys: QueueKeyspace, redis: RedisConfiguration, registry: JobRegistry,
        services: JobServices, logger: Logger, id: String = WorkerInfo.newID(),
        ingresses: [any JobIngress] = [], observers: [any JobOutcomeObserver] = []
    ) {
        self.id = id
        self.ingresses = ingresses
        self.observers = observers
        self.options = options
        self.slots = ExecutorSlots(count: options.concurrency)
        self.tallies = (0...options.concurrency).map { _ in OutcomeTally() }  // the last for the isolation lane
        self.limits = TypeLimits(registry: registry)
        self.keys = keys
        self.redisConfiguration = redis
        self.registry = registry
        self.services = services
        self.settler = Settler(keys: keys, deadSet: options.deadSet)
        self.dispatcher = Dispatcher(redis: services.redis.pool, asynchronous: services.redis, keys: keys, defaults: { [registry] in registry.enqueueDefaults(for: $0) })
        self.limiters = registry.entries.compactMapValues { entry in entry.settings.rate.map { RateLimiter(type: entry.type, limit: $0, keys: keys) } }
        self.ackLedger = AckLedger(worker: id, slots: options.concurrency, entriesPerSlot: options.prefetch)
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
    }

    /// Every consumer of this process: one per job thread, and the isolation lane.
    var consumers: [Consumer] {
        (0..<options.concurrency).map { Consumer(worker: id, lane: .slot($0)) } + [Consumer(worker: id, lane: .isolated)]
    }

    /// Asks the process to drain and stop (SIGTERM, SIGINT). Safe from any thread.
    public func stop() {
        if !stopping.exchange(true, ordering: .sequentiallyConsistent) { stopSignal.signal() }
        fetching.lock()
        fetching.broadcast()
        fetching.unlock()
        idleFetch.wakeAll()
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Stops or resumes fetching while keeping the process running (SIGTSTP toggles it).
    public func setQuiet(_ value: Bool) {
        fetching.lock()
        quiet.store(value, ordering: .relaxed)
        fetching.broadcast()
        fetching.unlock()
        idleFetch.wakeAll()
        logger.notice(value ? "quiet: no new jobs will be fetched" : "resumed fetching")
    }

    public var isQuiet: Bool { quiet.load(ordering: .relaxed) }

    /// Blocks the calling job thread while the process is quiet; returns when fetching resumes
    /// or the process stops (both wake it at once).
    func waitWhileQuiet() {
        fetching.lock()
        while isQuiet && !isStopping { fetching.wait() }
        fetching.unlock()
    }

    /// Marks the process for replacement and stops it (a job ignored its timeout).
    func recycle() {
        recycling.store(true, ordering: .relaxed)
        stop()
    }

    /// Runs until stopped; returns how the process should exit.
    public func run() -> Exit {
        logger.info("worker started", metadata: [
            "queues": "\(options.queues.queues.map { "\($0.name):\($0.weight)" }.joined(separator: ","))",
            "concurrency": "\(options.concurrency)", "pid": "\(getpid())",
        ])
        // A type whose service is not configured cannot run here: its jobs will wait (no attempt
        // spent) for a worker that has it. Said once, at start, for the operator to fix.
        for (configuration, types) in registry.unconfigured(in: services) {
            logger.warning("\(configuration) is not set: jobs of \(types.joined(separator: ", ")) will wait in the retries (no attempt spent) until a worker that has it runs them", metadata: [
                "missing": "\(configuration)", "job_types": "\(types.joined(separator: ","))",
            ])
        }
        let housekeeping = Housekeeping(process: self)
        // Register before the first fetch: a job taken by a worker that nobody knows of could
        // never be recovered if the worker died before its first heartbeat.
        housekeeping.announce()
        let threads = DispatchGroup()
        for slot in 0..<options.concurrency {
            threads.enter()
            Thread.detachNewThread { [self] in
                JobThread(process: self, slot: slot).run()
                threads.leave()
            }
        }
        let housekeepingDone = DispatchGroup()
        housekeepingDone.enter()
        Thread.detachNewThread {
            housekeeping.run()
            housekeepingDone.leave()
        }
        for ingress in ingresses {
            housekeepingDone.enter()
            Thread.detachNewThread { [self] in
                ingress.run(isStopping: { [self] in isStopping })
                housekeepingDone.leave()
            }
        }
        if !limiters.isEmpty {
            housekeepingDone.enter()
            Thread.detachNewThread { [self] in
                LimiterPump(process: self).run()
                housekeepingDone.leave()
            }
        }

        stopSignal.wait()
        logger.info("stopping: finishing running jobs", metadata: ["running": "\(slots.runningCount)", "timeout": "\(options.shutdownTimeout)"])
        // Wait for the job threads — but not for a job the watchdog gave up on: it will never return.
        let deadline = ContinuousClock.now + options.shutdownTimeout
        var drained = false
        while !drained, ContinuousClock.now < deadline {
            drained = threads.wait(timeout: .now() + 0.05) == .success || (recycling.load(ordering: .relaxed) && slots.activeCount == 0)
        }
        if !drained {
            slots.cancelAll(reason: Processor.shutdownReason)
            _ = threads.wait(timeout: .now() + 1)
        }
        _ = housekeepingDone.wait(timeout: .now() + options.heartbeatInterval.secondsValue + 2)
        let requeued = finish()
        let exit: Exit = recycling.load(ordering: .relaxed) ? .recycle : .stopped
        logger.info("worker stopped", metadata: ["requeued": "\(requeued)", "exit": "\(exit.rawValue)"])
        return exit
    }

    /// Writes `settlement` and reports what the dead set's limits did.
    func settle(_ fetched: FetchedJob, _ settlement: Settlement, on redis: RedisConnection) throws(RedisError) {
        let result = try settler.settle(fetched, settlement, on: redis)
        guard case .bury = settlement else { return }
        if result.trimmed > 0 {
            logger.warning("the dead set is full: its oldest jobs were dropped", metadata: [
                "queue": "\(fetched.queue)", "dropped": "\(result.trimmed)", "capacity": "\(options.deadSet.capacity)",
            ])
        } else if result.deadSize * 10 >= options.deadSet.capacity * 9 {
            let now = Int64(Date().timeIntervalSince1970)
            if now - lastDeadSetWarning.exchange(now, ordering: .relaxed) >= 60 {
                logger.warning("the dead set is over 90% full; retry or delete dead jobs before the oldest are dropped", metadata: [
                    "queue": "\(fetched.queue)", "size": "\(result.deadSize)", "capacity": "\(options.deadSet.capacity)",
                ])
            }
        }
    }

    /// Writes settlements the watchdog decided; keeps those Redis refused.
    func flushPendingSettlements(on redis: RedisConnection) throws(RedisError) {
        while let (fetched, settlement) = pendingSettlements.withLock({ $0.first }) {
            tellObservers(fetched, settlement)
            try settle(fetched, settlement, on: redis)
            pendingSettlements.withLock { pending in
                if let index = pending.firstIndex(where: { $0.0.payload == fetched.payload }) { pending.remove(at: index) }
            }
        }
    }

    /// Tells the observers how an attempt of a job that came through an ingress ended.
    func tellObservers(_ fetched: FetchedJob, _ settlement: Settlement) {
        guard !observers.isEmpty, let job = try? fetched.job.get(), job.origin != nil else { return }
        let outcome: JobOutcome
        switch settlement {
        case .done: outcome = .succeeded(result: nil)
        case .succeeded(let bytes, _): outcome = .succeeded(result: bytes)
        case .retry(let failure, _, _): outcome = .retrying(failure)
        case .bury(let failure): outcome = .dead(failure)
        }
        for observer in observers {
            do {
                try observer.attemptEnded(job, outcome)
            } catch {
                logger.error("could not report the job's outcome to where it came from", metadata: [
                    "job_id": "\(job.id)", "job_type": "\(job.type)", "error": "\(error)",
                ])
            }
        }
    }

    // MARK: Shutdown

    /// Writes what is still unsettled, puts back whatever is left in this process's in-flight
    /// lists, and unregisters — or, when Redis does not answer, leaves the lists for recovery (by
    /// the supervisor at once, else by any worker once the heartbeat is stale). A timeout the
    /// watchdog recorded is worth waiting for: then it keeps trying for up to 30 s.
    /// Returns how many jobs went back.
    private func finish() -> Int {
        // The job threads have stopped: with every acknowledgement written, nobody needs the ledger.
        if ackLedger?.isEmpty == true { ackLedger?.remove() }
        var requeued = 0
        let deadline = ContinuousClock.now + .seconds(30)
        var attempt = 0
        while attempt < 3 || (!pendingSettlements.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline) {
            attempt += 1
            do {
                let redis = try RedisConnection(configuration: redisConfiguration)
                try flushPendingSettlements(on: redis)
                for consumer in consumers {
                    requeued += try Fetcher(keys: keys, consumer: consumer).requeueAll(queues: options.queues.names, on: redis)
                }
                try WorkerRegistry(keys: keys).remove(id, on: redis)
                ackLedger?.remove()  // every acknowledgement was written or its job put back
                return requeued
            } catch {
                logger.error("could not put jobs back on shutdown", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        logger.warning("jobs may be left in flight; the supervisor or another worker will recover them")
        return requeued
    }
}
