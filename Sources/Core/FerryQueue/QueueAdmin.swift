public import FerryRedis
import FerrySupport
public import Foundation

/// Sizes of one queue.
public struct QueueStats: Sendable, Equatable, Codable {
    public var ready: Int
    public var scheduled: Int
    public var inFlight: Int
    /// Jobs in flight on workers whose heartbeat has stopped, waiting for recovery.
    public var orphaned: Int
    public var dead: Int
    /// Dead jobs dropped by the dead set's age and size limits, ever.
    public var trimmed: Int
    /// Age in seconds of the oldest ready job (0 when none waits).
    public var latencyS: Double
    public var processed: Int
    public var failed: Int
    public var paused: Bool

    enum CodingKeys: String, CodingKey {
        case ready, scheduled, dead, processed, failed, paused, orphaned, trimmed
        case inFlight = "in_flight"
        case latencyS = "latency_s"
    }
}

/// The whole picture: every queue, totals, live workers.
public struct Stats: Sendable, Equatable, Codable {
    public var queues: [String: QueueStats]
    public var processed: Int
    public var failed: Int
    public var workers: Int
}

/// What admins see and repair (the CLI's `stats` and `dead`, the admin endpoint).
public struct QueueAdmin: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Known queues, sorted.
    public func queues(on redis: RedisConnection) throws(RedisError) -> [String] {
        (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string).sorted()
    }

    /// Sizes of every queue. Jobs in flight count per queue whether their worker is live or not;
    /// those of workers silent for longer than `heartbeatTTL` are also counted as orphaned.
    /// A queue that only in-flight lists mention (never registered in `ns:queues`) shows too.
    public func stats(on redis: RedisConnection, now: Date = Date(), heartbeatTTL: Duration = .seconds(30)) throws(RedisError) -> Stats {
        let registry = WorkerRegistry(keys: keys)
        let lists = try registry.inFlightLists(ttl: heartbeatTTL, on: redis)
        let names = Set(try queues(on: redis)).union(lists.map(\.queue)).sorted()
        let workers = try registry.liveWorkers(on: redis)
        var result = Stats(queues: [:], processed: 0, failed: 0, workers: workers.count)
        for queue in names {
            let queueLists = lists.filter { $0.queue == queue }
            var commands: [[RedisArgument]] = [
                ["LLEN", .string(keys.ready(queue))], ["ZCARD", .string(keys.scheduled(queue))],
                ["ZCARD", .string(keys.dead(queue))], ["LINDEX", .string(keys.ready(queue)), -1],
                ["GET", .string(keys.processed(queue))], ["GET", .string(keys.failed(queue))],
                ["EXISTS", .string(keys.paused(queue))], ["GET", .string(keys.trimmed(queue))],
            ]
            commands += queueLists.map { ["LLEN", .string($0.key)] }
            let replies = try redis.pipeline(commands)
            var latency = 0.0
            if let oldest = replies[3].bytes, let job = try? Job.decode(oldest) {
                latency = min(max(0, now.timeIntervalSince1970 - (job.runAt ?? job.enqueuedAt)), 1e12)
            }
            let lengths = replies[8...].map { $0.int ?? 0 }
            let stats = QueueStats(
                ready: replies[0].int ?? 0, scheduled: replies[1].int ?? 0,
                inFlight: lengths.reduce(0, +), orphaned: zip(queueLists, lengths).filter(\.0.orphaned).reduce(0) { $0 + $1.1 },
                dead: replies[2].int ?? 0, trimmed: replies[7].int ?? 0,
                latencyS: (latency * 1000).rounded() / 1000, processed: replies[4].int ?? 0, failed: replies[5].int ?? 0,
                paused: replies[6].int == 1
            )
            result.queues[queue] = stats
            result.processed += stats.processed
            result.failed += stats.failed
        }
        return result
    }

    // MARK: Pause

    public func pause(_ queue: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command("SET", .string(keys.paused(queue)), "1")
        try redis.command("SADD", .string(keys.queues), .string(queue))
    }

    public func resume(_ queue: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command("DEL", .string(keys.paused(queue)))
    }

    /// Which of `queues` are paused now.
    public func pausedQueues(_ queues: [String], on redis: RedisConnection) throws(RedisError) -> Set<String> {
        guard !queues.isEmpty else { return [] }
        let replies = try redis.pipeline(queues.map { ["EXISTS", .string(keys.paused($0))] })
        return Set(zip(queues, replies).filter { $0.1.int == 1 }.map(\.0))
    }

    // MARK: Scheduled set (delayed jobs and retries)

    /// Jobs waiting in scheduled sets, soonest first: delayed jobs, and retries (`job.error != nil`).
    public func scheduledJobs(queue: String? = nil, limit: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> [ScheduledJob] {
        let names: [String]
        if let queue { names = [queue] } else { names = try queues(on: redis) }
        var all: [ScheduledJob] = []
        for name in names {
            let members = try redis.command("ZRANGE", .string(keys.scheduled(name)), 0, RedisArgument(limit - 1), "WITHSCORES").array ?? []
            for index in stride(from: 0, to: members.count - 1, by: 2) {
                guard let bytes = members[index].bytes, let job = try? Job.decode(bytes), let score = members[index + 1].string.flatMap(Double.init) else { continue }
                // A score written by someone else may be ±inf: show it as the edge of time.
                let runAt = score.isFinite ? score / 1000 : (score > 0 ? TimeLimits.latestInstant : 0)
                all.append(ScheduledJob(job: job, runAt: runAt, member: bytes))
            }
        }
        return all.sorted { $0.runAt < $1.runAt }
    }

    /// Moves a scheduled job to its ready list now; false if it is no longer scheduled.
    @discardableResult
    public func runNow(_ scheduled: ScheduledJob, on redis: RedisConnection) throws(RedisError) -> Bool {
        let queue = scheduled.job.queue
        return try redis.run(QueueScripts.runNow, keys: [.string(keys.scheduled(queue)), .string(keys.ready(queue)), .string(keys.ids(queue)),
                                                         .string(keys.retries(queue))],
                             arguments: [.bytes(scheduled.member), .string(scheduled.job.id)]).int == 1
    }

    /// Removes a scheduled job; false if it is no longer scheduled.
    @discardableResult
    public func delete(_ scheduled: ScheduledJob, on redis: RedisConnection) throws(RedisError) -> Bool {
        let queue = scheduled.job.queue
        return try redis.run(
            QueueScripts.deleteScheduled, keys: [.string(keys.scheduled(queue)), .string(keys.crashes(queue)), .string(keys.ids(queue)),
                                                 .string(keys.retries(queue))],
            arguments: [.bytes(scheduled.member), .string(keys.uniquePrefix(queue))]
        ).int == 1
    }

    /// Deletes a queue's waiting jobs (ready and scheduled) with their unique keys and crash
    /// records; jobs in flight finish normally. `UNLINK` frees large lists off Redis's main thread.
    /// Returns how many were deleted.
    public func clear(_ queue: String, on redis: RedisConnection) throws(RedisError) -> Int {
        var uniqueKeys: [RedisArgument] = []
        var cursor = "0"
        repeat {
            let reply = try redis.command("SCAN", .string(cursor), "MATCH", .string(Self.globEscaped(keys.uniquePrefix(queue)) + "*"), "COUNT", 1000)
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            uniqueKeys += (parts.count > 1 ? parts[1].array ?? [] : []).compactMap(\.bytes).map { .bytes($0) }
        } while cursor != "0"
        let replies = try redis.pipeline([
            ["LLEN", .string(keys.ready(queue))], ["ZCARD", .string(keys.scheduled(queue))],
            ["UNLINK", .string(keys.ready(queue)), .string(keys.scheduled(queue)), .string(keys.crashes(queue)), .string(keys.retries(queue))]
                + uniqueKeys,
        ])
        // The scheduled jobs' entries in the id index go too (the dead set's stay).
        cursor = "0"
        repeat {
            let reply = try redis.command("HSCAN", .string(keys.ids(queue)), .string(cursor), "COUNT", 1000)
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            let fields = parts.count > 1 ? parts[1].array ?? [] : []
            var stale: [RedisArgument] = []
            for index in stride(from: 0, to: fields.count - 1, by: 2)
            where fields[index + 1].string.map({ $0.hasPrefix("s:") || $0.hasPrefix("r:") }) == true {
                if let id = fields[index].bytes { stale.append(.bytes(id)) }
            }
            if !stale.isEmpty { try redis.command(["HDEL", .string(keys.ids(queue))] + stale) }
        } while cursor != "0"
        return (replies[0].int ?? 0) + (replies[1].int ?? 0)
    }

    static func globEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: Finding a job

    /// Where a job is now, as far as Ferry tracks it.
    public enum Location: Sendable, Equatable {
        case running(worker: String)
        case ready
        case scheduled(ScheduledJob)
        case dead(DeadJob)
    }

    /// Looks for job `id`: running on a live worker, scheduled or retrying, or dead (O(log N) each,
    /// through the id index), or waiting in a ready list (the newest `readyScanLimit` of each
    /// queue). Nil when not found (done, deleted, or deeper in a long ready list).
    public func find(id: String, readyScanLimit: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> (Job?, Location)? {
        let registry = WorkerRegistry(keys: keys)
        for worker in try registry.liveWorkers(on: redis) where worker.busy.contains(where: { $0.id == id }) {
            for list in try registry.inFlightLists(ttl: .seconds(86_400 * 365), on: redis) where list.key.contains(worker.id) {
                for member in try redis.command("LRANGE", .string(list.key), 0, -1).array ?? [] {
                    if let bytes = member.bytes, let job = try? Job.decode(bytes), job.id == id { return (job, .running(worker: worker.id)) }
                }
            }
            return (nil, .running(worker: worker.id))
        }
        let (scheduled, dead) = try indexed(id: id, on: redis)
        if let scheduled { return (scheduled.job, .scheduled(scheduled)) }
        if let dead { return (dead.job, .dead(dead)) }
        if id.hasPrefix("raw-"), let dead = try deadJob(id: id, on: redis) { return (dead.job, .dead(dead)) }
        for queue in try queues(on: redis) {
            for member in try redis.command("LRANGE", .string(keys.ready(queue)), 0, RedisArgument(readyScanLimit - 1)).array ?? [] {
                if let bytes = member.bytes, let job = try? Job.decode(bytes), job.id == id { return (job, .ready) }
            }
        }
        return nil
    }

    // MARK: Dead set

    /// Dead jobs, newest first, across `queue` or every queue.
    public func deadJobs(queue: String? = nil, limit: Int = 100, on redis: RedisConnection) throws(RedisError) -> [DeadJob] {
        let names: [String]
        if let queue { names = [queue] } else { names = try queues(on: redis) }
        var all: [DeadJob] = []
        for name in names {
            let members = try redis.command("ZREVRANGE", .string(keys.dead(name)), 0, RedisArgument(limit - 1)).array ?? []
            all += members.compactMap { $0.bytes.flatMap(DeadRecord.decode) }
        }
        return Array(all.sorted { $0.diedAt > $1.diedAt }.prefix(limit))
    }

    /// Enqueues a dead job again (attempts start over); returns false if it is gone.
    @discardableResult
    public func retry(_ dead: DeadJob, on redis: RedisConnection) throws(RedisError) -> Bool {
        let payload: [UInt8]
        if var job = dead.job {
            job.attempt = 1
            job.runAt = nil
            job.enqueuedAt = Date().timeIntervalSince1970
            payload = job.encoded()
        } else {
            payload = Array(dead.raw.utf8)
        }
        return try redis.run(
            QueueScripts.resurrect, keys: [.string(keys.dead(dead.queue)), .string(keys.ready(dead.queue)), .string(keys.ids(dead.queue))],
            arguments: [.bytes(dead.record), .bytes(payload), .string(dead.job?.id ?? "")]
        ).int == 1
    }

    /// Removes a dead job for good; returns false if it is gone.
    @discardableResult
    public func delete(_ dead: DeadJob, on redis: RedisConnection) throws(RedisError) -> Bool {
        try redis.run(QueueScripts.deleteDead, keys: [.string(keys.dead(dead.queue)), .string(keys.ids(dead.queue))],
                      arguments: [.bytes(dead.record), .string(dead.job?.id ?? "")]).int == 1
    }

    /// Retries the dead job `id`; false if there is none.
    @discardableResult
    public func retryDead(id: String, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let dead = try deadJob(id: id, on: redis) else { return false }
        return try retry(dead, on: redis)
    }

    /// Deletes the dead job `id`; false if there is none.
    @discardableResult
    public func deleteDead(id: String, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let dead = try deadJob(id: id, on: redis) else { return false }
        return try delete(dead, on: redis)
    }

    /// Runs the scheduled job `id` now — only a retry when `retry` is true, only a delayed job when
    /// false, either when nil; false if there is none.
    @discardableResult
    public func runScheduled(id: String, retry: Bool? = nil, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let job = try scheduledJob(id: id, retry: retry, on: redis) else { return false }
        return try runNow(job, on: redis)
    }

    /// Deletes the scheduled job `id` (see ``runScheduled(id:retry:on:)``); false if there is none.
    @discardableResult
    public func deleteScheduled(id: String, retry: Bool? = nil, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let job = try scheduledJob(id: id, retry: retry, on: redis) else { return false }
        return try delete(job, on: redis)
    }

    private func scheduledJob(id: String, retry: Bool?, on redis: RedisConnection) throws(RedisError) -> ScheduledJob? {
        guard let scheduled = try indexed(id: id, on: redis).scheduled, retry == nil || scheduled.isRetry == retry else { return nil }
        return scheduled
    }

    /// Finds a dead job by id in any queue: through the id index, O(log N); a payload that was not
    /// a job (`raw-…` ids) by a scan of the newest `rawScanLimit` records of each queue.
    public func deadJob(id: String, rawScanLimit: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> DeadJob? {
        if let dead = try indexed(id: id, on: redis).dead { return dead }
        guard id.hasPrefix("raw-") else { return nil }
        for queue in try queues(on: redis) {
            let members = try redis.command("ZREVRANGE", .string(keys.dead(queue)), 0, RedisArgument(rawScanLimit - 1)).array ?? []
            for member in members {
                if let bytes = member.bytes, let dead = DeadRecord.decode(bytes), dead.id == id { return dead }
            }
        }
        return nil
    }

    /// Where the id index says job `id` waits (scheduled set) or lies (dead set), read back from
    /// that set: one HGET per queue, then the members with that one score.
    func indexed(id: String, on redis: RedisConnection) throws(RedisError) -> (scheduled: ScheduledJob?, dead: DeadJob?) {
        let names = try queues(on: redis)
        guard !names.isEmpty else { return (nil, nil) }
        let replies = try redis.pipeline(names.map { ["HGET", .string(keys.ids($0)), .string(id)] })
        for (queue, reply) in zip(names, replies) {
            guard let at = reply.string, at.count > 2 else { continue }
            let score = String(at.dropFirst(2))
            if at.hasPrefix("s:") || at.hasPrefix("r:") {
                let members = try redis.command("ZRANGE", .string(keys.scheduled(queue)), .string(score), .string(score), "BYSCORE", "WITHSCORES").array ?? []
                for index in stride(from: 0, to: members.count - 1, by: 2) {
                    guard let bytes = members[index].bytes, let job = try? Job.decode(bytes), job.id == id,
                          let value = members[index + 1].string.flatMap(Double.init), value.isFinite else { continue }
                    return (ScheduledJob(job: job, runAt: value / 1000, member: bytes), nil)
                }
            } else if at.hasPrefix("d:") {
                let members = try redis.command("ZRANGE", .string(keys.dead(queue)), .string(score), .string(score), "BYSCORE").array ?? []
                for member in members {
                    if let bytes = member.bytes, let dead = DeadRecord.decode(bytes), dead.id == id { return (nil, dead) }
                }
            }
        }
        return (nil, nil)
    }

    /// One page of retries (or of delayed jobs), soonest first, across `queue` or every queue,
    /// and how many there are: each queue's set is read from its soonest end only as far as the
    /// page needs (at most `window` members), and the count comes from a counter.
    public func waitingPage(
        queue: String? = nil, retries: Bool, offset: Int, limit: Int, window: Int = 10_000, on redis: RedisConnection
    ) throws(RedisError) -> (jobs: [ScheduledJob], total: Int) {
        let names: [String]
        if let queue { names = [queue] } else { names = try queues(on: redis) }
        var total = 0
        var all: [ScheduledJob] = []
        for name in names {
            let counts = try redis.pipeline([["ZCARD", .string(keys.scheduled(name))], ["GET", .string(keys.retries(name))]])
            let size = counts[0].int ?? 0
            let retrying = min(size, max(0, counts[1].int ?? 0))
            total += retries ? retrying : size - retrying
            var found: [ScheduledJob] = []
            var start = 0
            while found.count < offset + limit, start < min(size, window) {
                let chunk = try redis.command(
                    "ZRANGE", .string(keys.scheduled(name)), RedisArgument(start), RedisArgument(min(start + 500, window) - 1), "WITHSCORES"
                ).array ?? []
                guard !chunk.isEmpty else { break }
                for index in stride(from: 0, to: chunk.count - 1, by: 2) {
                    guard let bytes = chunk[index].bytes, let job = try? Job.decode(bytes), (job.error != nil) == retries,
                          let score = chunk[index + 1].string.flatMap(Double.init) else { continue }
                    let runAt = score.isFinite ? score / 1000 : (score > 0 ? TimeLimits.latestInstant : 0)
                    found.append(ScheduledJob(job: job, runAt: runAt, member: bytes))
                }
                start += 500
            }
            all += found.prefix(offset + limit)
        }
        return (Array(all.sorted { $0.runAt < $1.runAt }.dropFirst(offset).prefix(limit)), total)
    }

    /// One page of dead jobs, newest first, across `queue` or every queue, and how many there
    /// are: O(queues × (offset + limit)), whatever the dead sets' sizes.
    public func deadPage(queue: String? = nil, offset: Int, limit: Int, on redis: RedisConnection) throws(RedisError) -> (jobs: [DeadJob], total: Int) {
        let names: [String]
        if let queue { names = [queue] } else { names = try queues(on: redis) }
        guard !names.isEmpty, limit > 0 else { return ([], 0) }
        var commands: [[RedisArgument]] = []
        for name in names {
            commands.append(["ZCARD", .string(keys.dead(name))])
            commands.append(["ZREVRANGE", .string(keys.dead(name)), 0, RedisArgument(offset + limit - 1)])
        }
        let replies = try redis.pipeline(commands)
        var total = 0
        var all: [DeadJob] = []
        for index in stride(from: 0, to: replies.count, by: 2) {
            total += replies[index].int ?? 0
            all += (replies[index + 1].array ?? []).compactMap { $0.bytes.flatMap(DeadRecord.decode) }
        }
        return (Array(all.sorted { $0.diedAt > $1.diedAt }.dropFirst(offset).prefix(limit)), total)
    }
}

/// A job waiting in a scheduled set: a delayed job, or a retry when `job.error` is set.
public struct ScheduledJob: Sendable, Equatable {
    public let job: Job
    /// When it becomes due (Unix seconds).
    public let runAt: Double
    /// The exact member in the sorted set.
    let member: [UInt8]

    public var isRetry: Bool { job.error != nil }
}
