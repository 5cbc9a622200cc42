public import FerryQueue
public import FerryRedis
public import Logging
import Foundation
import Synchronization

/// How a worker process runs.
public struct WorkerOptions: Sendable {
    public var queues: QueueSelection
    /// Jobs run at once, each on its own thread.
    public var concurrency: Int
    /// Most jobs one thread takes per fetch. The batch grows from 1 while jobs finish quickly and
    /// falls back to 1 when they are slow, so quick jobs are batched and slow ones are not hoarded.
    public var prefetch: Int
    /// How long SIGTERM waits for running jobs before putting them back.
    public var shutdownTimeout: Duration
    public var heartbeatInterval: Duration
    /// A worker whose heartbeat is older than this is dead; its jobs are recovered.
    public var heartbeatTTL: Duration
    /// After this many crashes with a job in flight, the job goes dead.
    public var crashLimit: Int
    /// How long one blocking fetch waits when every queue is empty.
    public var pollInterval: Duration
    /// How long a job may ignore cancellation after its timeout before the process is recycled.
    public var timeoutGrace: Duration
    public var deadCapacity: Int
    /// Stop (draining as on SIGTERM) when the parent process goes away: set for the processes a
    /// ``Supervisor`` starts, so that a supervisor killed outright leaves no worker behind.
    public var stopWhenOrphaned: Bool

    public init(
        queues: QueueSelection, concurrency: Int = 10, prefetch: Int = 64, shutdownTimeout: Duration = .seconds(25),
        heartbeatInterval: Duration = .seconds(5), heartbeatTTL: Duration = .seconds(30), crashLimit: Int = 3,
        pollInterval: Duration = .seconds(1), timeoutGrace: Duration = .seconds(10), deadCapacity: Int = 10_000,
        stopWhenOrphaned: Bool = false
    ) {
        self.queues = queues
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.shutdownTimeout = shutdownTimeout
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTTL = heartbeatTTL
        self.crashLimit = crashLimit
        self.pollInterval = pollInterval
        self.timeoutGrace = timeoutGrace
        self.deadCapacity = deadCapacity
        self.stopWhenOrphaned = stopWhenOrphaned
    }
}

/// One worker process: `concurrency` executor threads that fetch and run jobs, and a
/// housekeeping thread for the heartbeat, due-job promotion, orphan recovery and timeouts.
///
/// ``run()`` blocks until ``stop()`` (SIGTERM/SIGINT), then drains: no new fetches, running jobs
/// get up to the shutdown timeout, anything unfinished goes back to the front of its queue.
public final class WorkerProcess: Sendable {
    /// Why ``run()`` returned, as the process exit code.
    public enum Exit: Int32, Sendable {
        /// Stopped on request, everything drained or put back.
        case stopped = 0
        /// A job ignored its timeout; the process must be replaced (the supervisor restarts it).
        case recycle = 75
    }

    public let id: String
    public let options: WorkerOptions
    private let keys: QueueKeyspace
    private let redisConfiguration: RedisConfiguration
    private let registry: JobRegistry
    private let services: JobServices
    private let logger: Logger
    private let slots: ExecutorSlots
    private let limits: TypeLimits

    private let stopping = Atomic<Bool>(false)
    private let quiet = Atomic<Bool>(false)
    private let recycling = Atomic<Bool>(false)
    private let stopSignal = DispatchSemaphore(value: 0)
    private let paused = Mutex<Set<String>>([])
    private let startedAt = Date()

    public init(
        options: WorkerOptions, keys: QueueKeyspace, redis: RedisConfiguration, registry: JobRegistry,
        services: JobServices, logger: Logger, id: String = WorkerInfo.newID()
    ) {
        self.id = id
        self.options = options
        self.slots = ExecutorSlots(count: options.concurrency)
        self.limits = TypeLimits(registry: registry)
        self.keys = keys
        self.redisConfiguration = redis
        self.registry = registry
        self.services = services
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
    }

    /// Asks the process to drain and stop (SIGTERM, SIGINT). Safe from any thread.
    public func stop() {
        if !stopping.exchange(true, ordering: .sequentiallyConsistent) { stopSignal.signal() }
    }

    /// Stops or resumes fetching while keeping the process running (SIGTSTP toggles it).
    public func setQuiet(_ value: Bool) {
        quiet.store(value, ordering: .relaxed)
        logger.notice(value ? "quiet: no new jobs will be fetched" : "resumed fetching")
    }

    public var isQuiet: Bool { quiet.load(ordering: .relaxed) }

    /// Runs until stopped; returns how the process should exit.
    public func run() -> Exit {
        logger.info("worker started", metadata: [
            "queues": "\(options.queues.queues.map { "\($0.name):\($0.weight)" }.joined(separator: ","))",
            "concurrency": "\(options.concurrency)", "pid": "\(getpid())",
        ])
        // Register before the first fetch: a job taken by a worker that nobody knows of could
        // never be recovered if the worker died before its first heartbeat.
        announce()
        let executors = DispatchGroup()
        for slot in 0..<options.concurrency {
            executors.enter()
            Thread.detachNewThread { [self] in
                executorLoop(slot: slot)
                executors.leave()
            }
        }
        let housekeeping = DispatchGroup()
        housekeeping.enter()
        Thread.detachNewThread { [self] in
            housekeepingLoop()
            housekeeping.leave()
        }

        stopSignal.wait()
        logger.info("stopping: finishing running jobs", metadata: ["running": "\(slots.runningCount)", "timeout": "\(options.shutdownTimeout)"])
        // Wait for the executors — but not for a job the watchdog gave up on: it will never return.
        let deadline = Date().addingTimeInterval(Self.seconds(options.shutdownTimeout))
        var drained = false
        while !drained, Date() < deadline {
            drained = executors.wait(timeout: .now() + 0.05) == .success || (recycling.load(ordering: .relaxed) && slots.activeCount == 0)
        }
        if !drained {
            slots.cancelAll(reason: Processor.shutdownReason)
            _ = executors.wait(timeout: .now() + 1)
        }
        let leftovers = slots.allHeld
        _ = housekeeping.wait(timeout: .now() + Self.seconds(options.heartbeatInterval) + 2)
        finish(requeueing: leftovers)
        let exit: Exit = recycling.load(ordering: .relaxed) ? .recycle : .stopped
        logger.info("worker stopped", metadata: ["requeued": "\(leftovers.count)", "exit": "\(exit.rawValue)"])
        return exit
    }

    // MARK: Executors

    private func executorLoop(slot: Int) {
        let fetcher = Fetcher(keys: keys, workerID: id)
        let processor = Processor(
            registry: registry, services: services,
            failures: FailureRecorder(keys: keys, workerID: id, deadCapacity: options.deadCapacity),
            slots: slots, limits: limits, isStopping: { [self] in stopping.load(ordering: .relaxed) }, logger: logger
        )
        var generator = SystemRandomNumberGenerator()
        let metrics = JobMetrics()
        var redis: RedisConnection?
        var batchSize = 1
        var unacknowledged: [FetchedJob] = []

        while !stopping.load(ordering: .relaxed) {
            if quiet.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            do {
                let connection = try redis ?? RedisConnection(configuration: redisConfiguration)
                redis = connection
                // Settle what a Redis failure left unsettled: finished jobs still to acknowledge,
                // and jobs whose outcome could not be recorded, which go back to their queue.
                if !unacknowledged.isEmpty {
                    try fetcher.acknowledge(unacknowledged, on: connection)
                    unacknowledged = []
                }
                let unsettled = slots.held(slot)
                if !unsettled.isEmpty {
                    try fetcher.requeue(unsettled, on: connection)
                    slots.setHeld(slot, [])
                }

                guard let batch = try fetchBatch(fetcher, size: batchSize, generator: &generator, on: connection) else { continue }
                slots.setHeld(slot, batch)
                let started = ContinuousClock.now
                var done: [FetchedJob] = []
                for (index, fetched) in batch.enumerated() {
                    if stopping.load(ordering: .relaxed) { break }
                    let outcome = try processor.run(fetched, slot: slot, redis: connection, metrics: metrics)
                    slots.setHeld(slot, Array(batch[(index + 1)...]))
                    switch outcome {
                    case .succeeded: done.append(fetched)
                    case .interrupted: slots.appendHeld(slot, fetched)
                    case .retried, .dead, .abandoned: break
                    }
                }
                unacknowledged = done
                if !done.isEmpty {
                    try fetcher.acknowledge(done, on: connection)
                    unacknowledged = []
                }
                let rest = slots.held(slot)
                if !rest.isEmpty { try fetcher.requeue(rest, on: connection) }
                slots.setHeld(slot, [])

                // Grow the batch while jobs are quick (under 2 ms each on average), shrink it when not.
                let elapsed = ContinuousClock.now - started
                if batch.count == batchSize, elapsed < .milliseconds(2) * batch.count {
                    batchSize = min(batchSize * 2, options.prefetch)
                } else if elapsed > .milliseconds(50) {
                    batchSize = 1
                }
            } catch {
                logger.error("redis failure in executor; retrying", metadata: ["slot": "\(slot)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        if !unacknowledged.isEmpty, let redis { _ = try? fetcher.acknowledge(unacknowledged, on: redis) }
    }

    /// Up to `size` jobs from the first queue (in weighted order) that has any; else waits up to
    /// the poll interval on one queue. Nil when nothing came.
    private func fetchBatch<Generator: RandomNumberGenerator>(
        _ fetcher: Fetcher, size: Int, generator: inout Generator, on connection: RedisConnection
    ) throws(RedisError) -> [FetchedJob]? {
        let pausedNow = paused.withLock { $0 }
        let order = options.queues.order(using: &generator).filter { !pausedNow.contains($0) }
        guard !order.isEmpty else {
            Thread.sleep(forTimeInterval: Self.seconds(options.pollInterval))
            return nil
        }
        for queue in order {
            let batch = try fetcher.fetch(from: queue, limit: size, on: connection)
            if !batch.isEmpty { return batch }
        }
        guard let job = try fetcher.waitForJob(on: order[0], blockFor: options.pollInterval, on: connection) else { return nil }
        // The queue may have been paused while we waited: then the job goes back.
        if try connection.command("EXISTS", .string(keys.paused(job.queue))).int == 1 {
            try fetcher.requeue([job], on: connection)
            paused.withLock { _ = $0.insert(job.queue) }
            return nil
        }
        return [job]
    }

    // MARK: Housekeeping

    /// Writes the first heartbeat and loads the paused queues, retrying until Redis answers.
    private func announce() {
        var delay = 0.1
        while !stopping.load(ordering: .relaxed) {
            do {
                let redis = try RedisConnection(configuration: redisConfiguration)
                try WorkerRegistry(keys: keys).beat(heartbeat(), ttl: options.heartbeatTTL, on: redis)
                let initiallyPaused = try QueueAdmin(keys: keys).pausedQueues(options.queues.names, on: redis)
                paused.withLock { $0 = initiallyPaused }
                return
            } catch {
                logger.error("cannot register with Redis; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    private func heartbeat() -> WorkerInfo {
        WorkerInfo(
            id: id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), queues: options.queues.names,
            concurrency: options.concurrency, startedAt: startedAt.timeIntervalSince1970, busy: slots.busy,
            quiet: quiet.load(ordering: .relaxed)
        )
    }

    private func housekeepingLoop() {
        let registryOfWorkers = WorkerRegistry(keys: keys)
        let promoter = ScheduledPromoter(keys: keys)
        let admin = QueueAdmin(keys: keys)
        let failures = FailureRecorder(keys: keys, workerID: id, deadCapacity: options.deadCapacity)
        var redis: RedisConnection?
        let clock = ContinuousClock()
        var nextBeat = clock.now
        var nextPromotion = clock.now
        let parent = getppid()

        while true {
            if options.stopWhenOrphaned, getppid() != parent, !stopping.load(ordering: .relaxed) {
                logger.warning("the supervisor is gone; stopping")
                stop()
            }
            let stoppingNow = stopping.load(ordering: .relaxed)
            do {
                let connection = try redis ?? RedisConnection(configuration: redisConfiguration)
                redis = connection
                for hung in slots.enforceTimeouts(grace: options.timeoutGrace) {
                    try abandon(hung, failures: failures, on: connection)
                }
                if stoppingNow { return }
                if clock.now >= nextPromotion {
                    try promoter.promoteDue(in: options.queues.names, on: connection)
                    let nowPaused = try admin.pausedQueues(options.queues.names, on: connection)
                    paused.withLock { $0 = nowPaused }
                    nextPromotion = clock.now + .milliseconds(200)
                }
                if clock.now >= nextBeat {
                    try registryOfWorkers.beat(heartbeat(), ttl: options.heartbeatTTL, on: connection)
                    let recovery = try registryOfWorkers.recoverOrphans(crashLimit: options.crashLimit, deadCapacity: options.deadCapacity, on: connection)
                    if !recovery.workers.isEmpty {
                        logger.warning("recovered the jobs of dead workers", metadata: [
                            "workers": "\(recovery.workers.joined(separator: ","))", "restored": "\(recovery.restored)", "dead": "\(recovery.buried)",
                        ])
                    }
                    nextBeat = clock.now + options.heartbeatInterval
                }
            } catch {
                logger.error("redis failure in housekeeping; retrying", metadata: ["error": "\(error)"])
                if stoppingNow { return }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// A job ran past its timeout and ignored cancellation: record the attempt as failed and
    /// recycle the process, the only way to stop a thread that will not stop.
    private func abandon(_ hung: ExecutorSlots.Running, failures: FailureRecorder, on redis: RedisConnection) throws(RedisError) {
        let message = "ran past its timeout and ignored cancellation for \(options.timeoutGrace); the worker process was recycled"
        let failure = JobFailure(type: "Timeout", message: message)
        if hung.job.attempt >= hung.job.maxAttempts {
            try failures.bury(hung.fetched, failure: failure, on: redis)
        } else {
            let delay = registry[hung.job.type]?.settings.backoff.delay(afterAttempt: hung.job.attempt) ?? .seconds(5)
            try failures.retry(hung.fetched, job: hung.job, failure: failure, runAt: Date().addingTimeInterval(Self.seconds(delay)), on: redis)
        }
        slots.release(payload: hung.fetched.payload)
        logger.error("job ignored its timeout; recycling the worker process", metadata: [
            "job_id": "\(hung.job.id)", "job_type": "\(hung.job.type)",
        ])
        recycling.store(true, ordering: .relaxed)
        stop()
    }

    // MARK: Shutdown

    private func finish(requeueing leftovers: [FetchedJob]) {
        do {
            let redis = try RedisConnection(configuration: redisConfiguration)
            let fetcher = Fetcher(keys: keys, workerID: id)
            if !leftovers.isEmpty { try fetcher.requeue(leftovers, on: redis) }
            let lengths = try redis.pipeline(options.queues.names.map { ["LLEN", .string(keys.inflight($0, worker: id))] })
            let registry = WorkerRegistry(keys: keys)
            if lengths.allSatisfy({ $0.int == 0 }) {
                try registry.remove(id, on: redis)
            } else {
                // Something is still in flight (a Redis failure got in the way): leave this worker
                // listed without a heartbeat, so the next recovery pass puts those jobs back.
                try redis.command("DEL", .string(keys.worker(id)))
                logger.warning("jobs left in flight; they will be recovered by another worker")
            }
        } catch {
            logger.error("could not put jobs back on shutdown; they will be recovered when this worker's heartbeat expires",
                         metadata: ["error": "\(error)"])
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
