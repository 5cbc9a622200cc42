public import FerryRedis
import FerrySupport
import Foundation

/// The scheduled sets of every queue: delayed jobs, and retries (jobs with an `error`) waiting for
/// their next attempt (Sidekiq's `ScheduledSet` and `RetrySet` in one).
public struct ScheduledSet: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Jobs waiting in scheduled sets, soonest first: delayed jobs, and retries (`job.error != nil`).
    public func jobs(queue: String? = nil, limit: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> [ScheduledJob] {
        let names: [String]
        if let queue { names = [queue] } else { names = try Queues(keys: keys).names(on: redis) }
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

    /// Moves a retry (or delayed job) to the dead set at once with `reason` — for a job that
    /// will never succeed, rather than waiting out its attempts (Sidekiq's "kill"). Not counted
    /// as a failed attempt. False if it is no longer scheduled.
    @discardableResult
    public func kill(_ scheduled: ScheduledJob, reason: String = "killed by an admin", deadSet: DeadSetPolicy = DeadSetPolicy(), on redis: RedisConnection) throws(RedisError) -> Bool {
        let queue = scheduled.job.queue
        let batch = scheduled.job.batchMembership
        return try redis.run(
            QueueScripts.kill,
            keys: [.string(keys.scheduled(queue)), .string(keys.crashes(queue)), .string(keys.ids(queue)), .string(keys.retries(queue)),
                   .string(keys.dead(queue)), .string(keys.trimmed(queue))],
            arguments: [.bytes(scheduled.member), .string(keys.uniquePrefix(queue)), .string(queue), .bytes(DeadRecord.encode(JobFailure(type: "Killed", message: reason))),
                        RedisArgument(deadSet.capacity), .string(String(deadSet.maxAge.wholeMilliseconds)),
                        .string(batch.map { keys.batch(queue, id: $0.id) } ?? ""), .string(keys.ready(queue)), .string(batch.map { String($0.index) } ?? "")]
        ).int == 1
    }

    /// Kills the scheduled job `id` (see ``run(id:retry:on:)``); false if there is none.
    @discardableResult
    public func kill(id: String, retry: Bool? = nil, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let job = try scheduledJob(id: id, retry: retry, on: redis) else { return false }
        return try kill(job, on: redis)
    }

    /// Runs the scheduled job `id` now — only a retry when `retry` is true, only a delayed job when
    /// false, either when nil; false if there is none.
    @discardableResult
    public func run(id: String, retry: Bool? = nil, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let job = try scheduledJob(id: id, retry: retry, on: redis) else { return false }
        return try runNow(job, on: redis)
    }

    /// Deletes the scheduled job `id` (see ``run(id:retry:on:)``); false if there is none.
    @discardableResult
    public func delete(id: String, retry: Bool? = nil, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let job = try scheduledJob(id: id, retry: retry, on: redis) else { return false }
        return try delete(job, on: redis)
    }

    private func scheduledJob(id: String, retry: Bool?, on redis: RedisConnection) throws(RedisError) -> ScheduledJob? {
        guard let scheduled = try JobLocator(keys: keys).indexed(id: id, on: redis).scheduled, retry == nil || scheduled.isRetry == retry else { return nil }
        return scheduled
    }

    /// One page of retries (or of delayed jobs), soonest first, across `queue` or every queue,
    /// and how many there are: each queue's set is read from its soonest end only as far as the
    /// page needs (at most `window` members), and the count comes from a counter.
    public func page(
        queue: String? = nil, retries: Bool, offset: Int, limit: Int, window: Int = 10_000, on redis: RedisConnection
    ) throws(RedisError) -> (jobs: [ScheduledJob], total: Int) {
        let names: [String]
        if let queue { names = [queue] } else { names = try Queues(keys: keys).names(on: redis) }
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
