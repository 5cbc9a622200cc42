import FerryQueue
import FerryRedis
import FerrySupport
import Foundation

/// The chores of a worker process, on a thread of their own: the heartbeat, promotion of due
/// jobs, the view of paused queues, recovery of dead workers' jobs, and the timeout watchdog.
struct Housekeeping {
    let process: WorkerProcess

    private var options: WorkerOptions { process.options }

    /// Lists this process's in-flight lists, writes the first heartbeat and loads the paused
    /// queues, retrying until Redis answers (or the process is stopped).
    func announce() {
        var delay = 0.1
        let parent = options.supervisorPID ?? getppid()
        while !process.isStopping {
            // A child whose supervisor died while Redis was unreachable must not wait forever.
            if options.stopWhenOrphaned, getppid() != parent {
                process.logger.warning("the supervisor is gone before Redis answered; stopping")
                process.stop()
                return
            }
            do {
                let redis = try RedisConnection(configuration: process.redisConfiguration)
                try beat(on: redis)
                let paused = try PausedQueues(keys: process.keys).paused(among: options.queues.names, on: redis)
                process.paused.withLock { $0 = paused }
                return
            } catch {
                process.logger.error("cannot register with Redis; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    func run() {
        let promoter = ScheduledPromoter(keys: process.keys)
        let pauses = PausedQueues(keys: process.keys)
        var redis: RedisConnection?
        let clock = ContinuousClock()
        var nextBeat = clock.now
        var nextPromotion = clock.now
        // Recover others only after a full TTL of talking to Redis without a break: after an
        // outage every heartbeat is stale, including those of workers that are alive and well.
        var recoveryAllowedAt = clock.now + options.heartbeatTTL
        let parent = options.supervisorPID ?? getppid()

        while true {
            if options.stopWhenOrphaned, getppid() != parent, !process.isStopping {
                process.logger.warning("the supervisor is gone; stopping")
                process.stop()
            }
            // The watchdog needs no Redis to decide; what it decides is written below, or on shutdown.
            for hung in process.slots.enforceTimeouts(grace: options.timeoutGrace) { abandon(hung) }
            let stoppingNow = process.isStopping
            do {
                let connection = try redis ?? RedisConnection(configuration: process.redisConfiguration)
                redis = connection
                try process.flushPendingSettlements(on: connection)
                if stoppingNow {
                    try recordOutcomes(on: connection)
                    return
                }
                if clock.now >= nextPromotion {
                    try promoter.promoteDue(in: options.queues.names, on: connection)
                    let nowPaused = try pauses.paused(among: options.queues.names, on: connection)
                    process.paused.withLock { $0 = nowPaused }
                    nextPromotion = clock.now + .milliseconds(200)
                }
                if clock.now >= nextBeat {
                    try beat(on: connection)
                    try recordOutcomes(on: connection)
                    if clock.now >= recoveryAllowedAt { try recoverDeadWorkers(on: connection) }
                    nextBeat = clock.now + options.heartbeatInterval
                }
            } catch {
                recoveryAllowedAt = clock.now + options.heartbeatTTL
                process.logger.error("redis failure in housekeeping; retrying", metadata: ["error": "\(error)"])
                if stoppingNow { return }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    private func beat(on redis: RedisConnection) throws(RedisError) {
        let registry = WorkerRegistry(keys: process.keys)
        // Listed again on every beat: a worker cut off long enough to be recovered comes back listed.
        try registry.register(worker: process.id, consumers: process.consumers, queues: options.queues.names, on: redis)
        try registry.beat(heartbeat(), ttl: options.heartbeatTTL, on: redis)
    }

    /// Adds the job threads' per-type outcomes to the minute and hour buckets; on failure they go
    /// back into a tally for the next beat.
    private func recordOutcomes(on redis: RedisConnection) throws(RedisError) {
        var counts: [String: TypeHealth.Counts] = [:]
        for tally in process.tallies { counts.merge(tally.take(), uniquingKeysWith: +) }
        do {
            try TypeHealth(keys: process.keys).record(counts, on: redis)
        } catch {
            process.tallies[0].putBack(counts)
            throw error
        }
    }

    private func heartbeat() -> WorkerInfo {
        WorkerInfo(
            id: process.id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), queues: options.queues.names,
            concurrency: options.concurrency, startedAt: process.startedAt.timeIntervalSince1970, busy: process.slots.busy,
            quiet: process.isQuiet
        )
    }

    private func recoverDeadWorkers(on redis: RedisConnection) throws(RedisError) {
        // A dead worker of this host (its supervisor died too) left its ledger here.
        let recovery = try WorkerRegistry(keys: process.keys).recoverStale(
            ttl: options.heartbeatTTL, crashLimit: options.crashLimit, deadSet: options.deadSet,
            notes: { AckLedger.read(worker: $0) }, recovered: { AckLedger.discard(worker: $0) }, on: redis
        )
        if !recovery.workers.isEmpty {
            process.logger.warning("recovered the jobs of dead workers", metadata: [
                "workers": "\(recovery.workers.joined(separator: ","))", "restored": "\(recovery.restored)", "dead": "\(recovery.buried)",
            ])
        }
    }

    /// A job ran past its timeout and ignored cancellation: its attempt fails as a timeout (by the
    /// same rule as any failure) and the process is recycled, the only way to stop a thread that
    /// will not stop. The settlement is written by the loop, or on shutdown if Redis is down.
    private func abandon(_ hung: ExecutorSlots.Running) {
        let message = "ran past its timeout and ignored cancellation for \(options.timeoutGrace); the worker process was recycled"
        let backoff = process.registry[hung.job.type]?.settings.backoff
        let settlement = Settlement.after(
            failure: JobFailure(type: "Timeout", message: message), job: hung.job, permanent: false,
            backoff: { backoff?.delay(afterAttempt: $0) ?? .seconds(5) }
        )
        process.pendingSettlements.withLock { $0.append((hung.fetched, settlement)) }
        process.logger.error("job ignored its timeout; recycling the worker process", metadata: [
            "job_id": "\(hung.job.id)", "job_type": "\(hung.job.type)",
        ])
        process.recycle()
    }
}
