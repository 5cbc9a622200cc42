import FerryQueue
import FerryRedis
import FerrySupport
import Foundation

/// One job thread of a worker process: fetches a batch into its own in-flight list, runs
/// the batch's async attempts together (``JobLoop``: tasks of this thread, their Redis commands
/// in one write, their ids noted in the ledger meanwhile), then the other jobs one by one from
/// the oldest, and settles each as it ends. Failures are written at
/// once. Plain successes are noted in the process's ``AckLedger`` and acknowledged together,
/// in one write, before the job thread's next call to Redis (the next fetch, at the latest) or
/// before a job of a type that last took over a millisecond starts — so a crash re-runs
/// nothing that had finished (recovery reads the ledger), and the job that was running is the
/// rightmost of the list once the finished ones are taken out. Acknowledgements are not waited
/// for: their replies are read with the next call.
///
/// After any Redis failure it cannot know what its list holds, so it reconciles: it writes again
/// the settlements whose replies it had not read (each is idempotent), then puts back everything
/// still in its list.
struct JobThread {
    let process: WorkerProcess
    let slot: Int

    func run() {
        let consumer = Consumer(worker: process.id, lane: .slot(slot))
        let fetcher = Fetcher(keys: process.keys, consumer: consumer)
        // Async attempts run as tasks of this thread; their Redis commands share its pipeline.
        let loop = JobLoop()
        let pipeline = RedisTaskPipeline(configuration: process.redisConfiguration, fallback: process.services.redis.shared, wake: { [loop] in loop.wake() })
        var services = process.services
        services.redis = services.redis.pipelining(through: pipeline)
        let processor = Processor(
            registry: process.registry, services: services, slots: process.slots, limits: process.limits, dispatcher: process.dispatcher,
            isStopping: { [process] in process.isStopping }, logger: process.logger
        )
        let queues = process.options.queues.names
        var generator = SystemRandomNumberGenerator()
        let metrics = JobMetrics(tally: process.tallies[slot])
        var redis: RedisConnection?
        var batchSize = 1
        var idlePolls = 0
        // Settlements written (or, for acknowledgements in `deferred`, still to be written) whose
        // replies were not read yet, and whether the list must be reconciled.
        var unconfirmed: [(FetchedJob, Settlement)] = []
        var mustReconcile = false
        // Finished jobs noted in the ledger, to be acknowledged in one write.
        var deferred: [FetchedJob] = []
        deferred.reserveCapacity(process.options.prefetch)
        // How long each type's last job took here: acknowledgements are written before a slow one starts.
        var lastDuration: [String: Duration] = [:]
        let ledger = process.ackLedger

        // With `withNextCall` the acknowledgements leave in the write of the call that follows at once.
        // The ledger keeps their notes until Redis has confirmed them (``confirmed()``).
        func writeDeferred(withNextCall: Bool = false, on connection: RedisConnection) throws(RedisError) {
            guard !deferred.isEmpty else { return }
            try process.settler.post(batch: deferred, withNextCall: withNextCall, on: connection)
            deferred.removeAll(keepingCapacity: true)
        }
        // Every settlement written has been confirmed by a reply.
        func confirmed() {
            unconfirmed.removeAll(keepingCapacity: true)
            ledger?.clear(slot: slot)
        }
        func forgetDeferred() {
            ledger?.clear(slot: slot)
            deferred.removeAll(keepingCapacity: true)
        }
        // Settles (or notes, or puts back) an attempt that ended; `noted` tells whether its
        // success is in the ledger already (nil: not tried yet).
        func conclude(_ fetched: FetchedJob, _ outcome: Processor.Outcome, noted: Bool?, on connection: RedisConnection) throws {
            if case .settle(let settlement) = outcome {
                try continueChain(fetched, settlement)
                process.tellObservers(fetched, settlement)
            }
            switch outcome {
            // A crash suspect's outcome is written at once, while its job thread still holds the
            // gate alone: a deferred acknowledgement would leave it in the isolation list when the
            // next suspect starts there, and a crash of that one would blame it too.
            case .settle(.done) where !fetched.isSuspect && (noted ?? Self.note(fetched, slot: slot, in: ledger)):
                unconfirmed.append((fetched, .done))
                deferred.append(fetched)
            case .settle(.done) where !fetched.isSuspect:
                unconfirmed.append((fetched, .done))
                try process.settler.post(fetched, on: connection)
            case .settle(let settlement):
                try writeDeferred(withNextCall: true, on: connection)  // leaves and is confirmed with this settlement
                unconfirmed.append((fetched, settlement))
                try process.settle(fetched, settlement, on: connection)
                confirmed()
            case .limited(let holdFor):
                if let job = try? fetched.job.get(), let limiter = process.limiters[job.type] {
                    try limiter.putBack(fetched, job: job, holdFor: holdFor, on: connection)
                }
            case .abandoned, .interrupted:
                break
            }
        }

        while !process.isStopping {
            if process.isQuiet {
                process.waitWhileQuiet()
                continue
            }
            do {
                let connection = try redis ?? RedisConnection(configuration: process.redisConfiguration)
                redis = connection
                if mustReconcile {
                    try reconcile(fetcher, unconfirmed: &unconfirmed, queues: queues, includingIsolationLane: true, on: connection)
                    forgetDeferred()  // settled by the reconciliation
                    mustReconcile = false
                }
                try writeDeferred(withNextCall: true, on: connection)  // leaves with the fetch, confirmed by its reply
                let fetched = try fetchBatch(fetcher, size: batchSize, generator: &generator, on: connection)
                try connection.confirmPosted()  // a no-op when the fetch already read them
                confirmed()
                guard let batch = fetched else {
                    metrics.publish()  // idle: the last jobs' outcomes reach the health table now
                    idlePolls += 1
                    // Idle: the list must be empty. Checking now and then costs nothing and
                    // catches anything a failure left behind unnoticed.
                    if idlePolls % 30 == 0 {
                        try reconcile(fetcher, unconfirmed: &unconfirmed, queues: queues, includingIsolationLane: false, on: connection)
                    }
                    continue
                }
                idlePolls = 0
                let started = ContinuousClock.now
                let parked = try parkedByRateLimits(batch, on: connection)
                var leftovers: [FetchedJob] = []
                // Attempts of async types run together first, as tasks of this thread (their Redis
                // commands leave in one write); then the others one at a time, from the oldest.
                var together = ledger == nil ? [] : batch.indices.filter { index in
                    guard !parked.contains(index), !batch[index].isSuspect, let type = batch[index].jobType else { return false }
                    return process.registry[type]?.runsTogether == true
                }
                // Noted in the ledger while they run: a crash makes suspects of exactly these.
                if !together.isEmpty, ledger?.noteRunningTogether(slot: slot, ids: together.map { batch[$0].jobID ?? "" }) != true {
                    together = []  // ids too long to note: one at a time, where the rightmost is the one running
                }
                if !together.isEmpty {
                    if !deferred.isEmpty, together.contains(where: { index in
                        lastDuration[batch[index].jobType ?? ""].map { $0 > .milliseconds(1) } ?? true
                    }) {
                        try writeDeferred(on: connection)
                    }
                    let ran = runTogether(together.map { batch[$0] }, processor: processor, metrics: metrics, loop: loop, pipeline: pipeline)
                    let average = (ContinuousClock.now - started) / max(1, together.count)
                    for (fetched, outcome, noted) in ran {
                        lastDuration[fetched.jobType ?? ""] = average
                        if case .interrupted = outcome {
                            leftovers.append(fetched)
                        } else {
                            try conclude(fetched, outcome, noted: noted, on: connection)
                        }
                    }
                }
                var runsAlone = [Bool](repeating: true, count: batch.count)
                for index in together { runsAlone[index] = false }
                let alone = batch.indices.filter { runsAlone[$0] && !parked.contains($0) }
                var position = 0
                while position < alone.count {
                    if process.isStopping || !leftovers.isEmpty {  // stopping, or the group was interrupted
                        leftovers += alone[position...].map { batch[$0] }
                        break
                    }
                    let next = batch[alone[position]]
                    let type = next.jobType ?? ""
                    if !deferred.isEmpty, next.isSuspect || lastDuration[type].map({ $0 > .milliseconds(1) }) ?? true {
                        try writeDeferred(on: connection)
                    }
                    let jobStarted = ContinuousClock.now
                    let (fetched, outcome, heldAlone) = try runOne(next, processor: processor, fetcher: fetcher, metrics: metrics, on: connection)
                    // A suspect's job thread holds the gate alone until its outcome is written.
                    defer { if heldAlone { process.gate.leaveExclusive() } }
                    lastDuration[type] = ContinuousClock.now - jobStarted
                    position += 1
                    if case .interrupted = outcome {
                        leftovers = [fetched] + alone[position...].map { batch[$0] }
                        break
                    } else {
                        try conclude(fetched, outcome, noted: nil, on: connection)
                    }
                }
                if !leftovers.isEmpty {
                    try writeDeferred(withNextCall: true, on: connection)
                    try fetcher.requeue(leftovers, on: connection)
                    confirmed()
                }

                // Grow the batch while jobs are quick (under 2 ms each on average), shrink it when not.
                let elapsed = ContinuousClock.now - started
                if batch.count == batchSize, elapsed < .milliseconds(2) * batch.count {
                    batchSize = min(batchSize * 2, process.options.prefetch)
                } else if elapsed > .milliseconds(50) {
                    batchSize = 1
                }
            } catch {
                mustReconcile = true
                process.logger.error("redis failure in a job thread; reconciling once Redis answers", metadata: ["slot": "\(slot)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        metrics.publish()
        loop.close()
        if let redis, !mustReconcile {
            do {
                try writeDeferred(withNextCall: true, on: redis)
                try redis.confirmPosted()
                confirmed()
            } catch {
                mustReconcile = true
            }
        }
        if mustReconcile || !unconfirmed.isEmpty, let redis,
           (try? reconcile(fetcher, unconfirmed: &unconfirmed, queues: queues, includingIsolationLane: false, on: redis)) != nil {
            forgetDeferred()
        }
    }

    /// Runs attempts of async types together as tasks of this thread (see ``JobLoop``); they are
    /// noted in the ledger as running together until they have all ended. Returns each job with
    /// its outcome and whether its success was noted in the ledger.
    private func runTogether(
        _ jobs: [FetchedJob], processor: Processor, metrics: JobMetrics, loop: JobLoop, pipeline: RedisTaskPipeline
    ) -> [(FetchedJob, Processor.Outcome, Bool)] {
        let ledger = process.ackLedger
        defer { ledger?.clearRunningTogether(slot: slot) }
        guard process.gate.enterShared(giveUp: { process.isStopping }) else { return jobs.map { ($0, .interrupted, false) } }
        defer { process.gate.leaveShared() }
        let slot = slot
        // The tasks run on this thread only (the loop is their preferred executor, and their
        // code is not actor-isolated), so this thread's metrics stay unshared as JobMetrics needs.
        nonisolated(unsafe) let metrics = metrics
        let ran = loop.runTogether(count: jobs.count, pipeline: pipeline) { index, cancelTask in
            let fetched = jobs[index]
            let outcome = await processor.runAsync(fetched, slot: slot, metrics: metrics, cancelTask: cancelTask)
            guard case .settle(.done) = outcome else { return (outcome, false) }
            return (outcome, Self.note(fetched, slot: slot, in: ledger))
        }
        return zip(jobs, ran).map { ($0, $1.0, $1.1) }
    }

    /// Notes a finished job in the ledger, to be acknowledged with others; false when it must be
    /// acknowledged on its own (see ``Settler/canAcknowledgeInBatch(_:)``, a full ledger).
    private static func note(_ fetched: FetchedJob, slot: Int, in ledger: AckLedger?) -> Bool {
        guard Settler.canAcknowledgeInBatch(fetched), let ledger, let id = fetched.jobID else { return false }
        return ledger.record(slot: slot, id: id)
    }

    /// Asks the rate limiters of the batch's limited types for tokens, one round trip per limiter
    /// (a quick job's token is taken at most a batch's run time before it starts: batches grow
    /// only while jobs take under 2 ms). Returns the indexes of the jobs parked to wait for one:
    /// they have left this job thread's list and are not run now.
    private func parkedByRateLimits(_ batch: [FetchedJob], on connection: RedisConnection) throws(RedisError) -> Set<Int> {
        guard !process.limiters.isEmpty else { return [] }
        var byLimiter: [String: [(index: Int, fetched: FetchedJob, job: Job)]] = [:]
        for (index, fetched) in batch.enumerated() {
            // The type first: most jobs have no limit, and reading it copies nothing.
            guard let type = fetched.jobType, process.limiters[type] != nil, let job = try? fetched.job.get() else { continue }
            byLimiter[type, default: []].append((index, fetched, job))
        }
        var parked = Set<Int>()
        for (type, jobs) in byLimiter {
            let decisions = try process.limiters[type]!.acquire(jobs.map { ($0.fetched, $0.job) }, on: connection)
            for (job, decision) in zip(jobs, decisions) where decision != .admitted { parked.insert(job.index) }
        }
        return parked
    }

    /// Enqueues the next job of a chain when a chained job succeeded — before it is acknowledged,
    /// so a crash in between runs the job again rather than losing the next one (which is unique
    /// per predecessor, so it is not enqueued twice).
    private func continueChain(_ fetched: FetchedJob, _ settlement: Settlement) throws {
        guard let job = try? fetched.job.get(), job.then != nil else { return }
        let result: [UInt8]?
        switch settlement {
        case .done: result = nil
        case .succeeded(let bytes, _): result = bytes
        case .retry, .bury: return
        }
        do {
            try Chain.enqueueNext(after: job, result: result, dispatcher: process.dispatcher)
        } catch .redis(let message) {
            throw QueueError.redis(message)
        } catch {
            process.logger.error("the chain ends here: the next job cannot be enqueued", metadata: [
                "job_id": "\(job.id)", "job_type": "\(job.type)", "error": "\(error)",
            ])
        }
    }

    /// Runs one job through the isolation gate: alone if it is a crash suspect, else shared.
    /// Returns the job as held now (a suspect moves to the isolation list), the outcome, and
    /// whether the caller holds the gate alone (a suspect that ran): it leaves it once the
    /// outcome is written.
    private func runOne(
        _ fetched: FetchedJob, processor: Processor, fetcher: Fetcher, metrics: JobMetrics, on connection: RedisConnection
    ) throws(RedisError) -> (FetchedJob, Processor.Outcome, alone: Bool) {
        let giveUp = { process.isStopping }
        guard fetched.isSuspect else {
            guard process.gate.enterShared(giveUp: giveUp) else { return (fetched, .interrupted, false) }
            defer { process.gate.leaveShared() }
            return (fetched, processor.run(fetched, slot: slot, metrics: metrics), false)
        }
        guard process.gate.enterExclusive(giveUp: giveUp) else { return (fetched, .interrupted, false) }
        let isolated: FetchedJob
        do {
            isolated = try fetcher.isolate(fetched, on: connection)
        } catch {
            process.gate.leaveExclusive()
            throw error
        }
        process.logger.notice("running a crash suspect alone", metadata: [
            "job_id": "\((try? fetched.job.get().id) ?? "?")", "queue": "\(fetched.queue)",
        ])
        return (isolated, processor.run(isolated, slot: slot, metrics: metrics), true)
    }

    /// Writes again the settlements a failure left unconfirmed, then puts back whatever is left in this
    /// job thread's lists — and, after a failure, in the isolation lane, which a failure while
    /// moving a suspect into it may have left holding a job nobody runs (taken while holding the
    /// gate alone, so no suspect is running there meanwhile).
    private func reconcile(
        _ fetcher: Fetcher, unconfirmed: inout [(FetchedJob, Settlement)], queues: [String], includingIsolationLane: Bool,
        on connection: RedisConnection
    ) throws(RedisError) {
        try connection.confirmPosted()
        for (fetched, settlement) in unconfirmed { try process.settle(fetched, settlement, on: connection) }
        unconfirmed.removeAll()
        var back = try fetcher.requeueAll(queues: queues, on: connection)
        if includingIsolationLane, process.gate.enterExclusive(giveUp: { process.isStopping }) {
            defer { process.gate.leaveExclusive() }
            back += try Fetcher(keys: process.keys, consumer: Consumer(worker: process.id, lane: .isolated)).requeueAll(queues: queues, on: connection)
        }
        if back > 0 {
            process.logger.warning("reconciled the in-flight list: unfinished jobs went back to their queues", metadata: [
                "slot": "\(slot)", "requeued": "\(back)",
            ])
        }
    }

    /// Up to `size` jobs from the first queue (in weighted order) that has any; else waits on
    /// the first queue (the poll interval, shared out among the queues). Nil when nothing came.
    private func fetchBatch<Generator: RandomNumberGenerator>(
        _ fetcher: Fetcher, size: Int, generator: inout Generator, on connection: RedisConnection
    ) throws(RedisError) -> [FetchedJob]? {
        let pausedNow = process.paused.withLock { $0 }
        let order = process.options.queues.order(using: &generator).filter { !pausedNow.contains($0) }
        guard !order.isEmpty else {
            Thread.sleep(forTimeInterval: process.options.pollInterval.secondsValue)
            return nil
        }
        for queue in order {
            let batch = try fetcher.fetch(from: queue, limit: size, on: connection)
            if !batch.isEmpty {
                process.idleFetch.wakeOne()  // there may be more: one idle thread comes to look
                return try unlessQuiet(batch, fetcher, on: connection)
            }
        }
        // Nothing queued: one job thread per queue waits in Redis, the others here until work comes.
        guard let watched = process.idleFetch.watch(order) else {
            process.idleFetch.sleep(for: process.options.pollInterval, watching: order) { !process.isStopping && !process.isQuiet }
            return nil
        }
        // Fewer threads than queues: a watcher waits a share of the interval (BLMOVE has one
        // source), so a job arriving on an unwatched queue is seen within about one interval.
        let unwatched = order.count > process.options.concurrency
        let share = unwatched ? max(.milliseconds(100), process.options.pollInterval / order.count) : process.options.pollInterval
        let waited: FetchedJob?
        do {
            waited = try fetcher.waitForJob(on: watched, blockFor: share, on: connection)
        } catch {
            process.idleFetch.resign(watched)
            throw error
        }
        process.idleFetch.resign(watched)
        guard let job = waited else { return nil }
        process.idleFetch.wakeOne()
        // The queue may have been paused while we waited: then the job goes back.
        if try PausedQueues(keys: process.keys).paused(among: [job.queue], on: connection).contains(job.queue) {
            try fetcher.requeue([job], on: connection)
            process.paused.withLock { _ = $0.insert(job.queue) }
            return nil
        }
        return try unlessQuiet([job], fetcher, on: connection)
    }

    /// `batch`, or nil with the batch put back when the process went quiet during the fetch
    /// (a blocking fetch under way when SIGTSTP came takes a job that must not start).
    private func unlessQuiet(_ batch: [FetchedJob], _ fetcher: Fetcher, on connection: RedisConnection) throws(RedisError) -> [FetchedJob]? {
        guard process.isQuiet else { return batch }
        try fetcher.requeue(batch, on: connection)
        return nil
    }
}
