public import FerryRedis
import FerrySupport
import Foundation

/// The dead sets of every queue: jobs that used up their attempts, kept for inspection, retry or
/// deletion (trimmed by ``DeadSetPolicy``).
public struct DeadSet: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Dead jobs, newest first, across `queue` or every queue.
    public func jobs(queue: String? = nil, limit: Int = 100, on redis: RedisConnection) throws(RedisError) -> [DeadJob] {
        let names: [String]
        if let queue { names = [queue] } else { names = try Queues(keys: keys).names(on: redis) }
        var all: [DeadJob] = []
        for name in names {
            let members = try redis.command("ZREVRANGE", .string(keys.dead(name)), 0, RedisArgument(limit - 1)).array ?? []
            all += members.compactMap { $0.bytes.flatMap(DeadRecord.decode) }
        }
        return Array(all.sorted { $0.diedAt > $1.diedAt }.prefix(limit))
    }

    /// Enqueues a dead job again (attempts start over, its failures kept: the one it died of is
    /// its last); returns false if it is gone.
    @discardableResult
    public func retry(_ dead: DeadJob, on redis: RedisConnection) throws(RedisError) -> Bool {
        let payload: [UInt8]
        if var job = dead.job {
            job.attempt = 1
            job.runAt = nil
            if let previous = job.error { job.failures = Array(((job.failures ?? []) + [previous]).suffix(Job.keptFailures)) }
            job.error = dead.error
            job.enqueuedAt = Date().timeIntervalSince1970
            payload = job.encoded()
        } else {
            payload = Array(dead.raw.utf8)
        }
        // The record of its death goes with it: whoever waits for the job now waits for this run.
        let record: [RedisArgument] = dead.job.map { [.string(keys.result(dead.queue, id: $0.id)), .string(keys.finished(dead.queue, id: $0.id))] } ?? []
        return try redis.run(
            QueueScripts.resurrect, keys: [.string(keys.dead(dead.queue)), .string(keys.ready(dead.queue)), .string(keys.ids(dead.queue))] + record,
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
    public func retry(id: String, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let dead = try job(id: id, on: redis) else { return false }
        return try retry(dead, on: redis)
    }

    /// Deletes the dead job `id`; false if there is none.
    @discardableResult
    public func delete(id: String, on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let dead = try job(id: id, on: redis) else { return false }
        return try delete(dead, on: redis)
    }

    /// Finds a dead job by id in any queue: through the id index, O(log N); a payload that was not
    /// a job (`raw-…` ids) by a scan of the newest `rawScanLimit` records of each queue.
    public func job(id: String, rawScanLimit: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> DeadJob? {
        if let dead = try JobLocator(keys: keys).indexed(id: id, on: redis).dead { return dead }
        guard id.hasPrefix("raw-") else { return nil }
        for queue in try Queues(keys: keys).names(on: redis) {
            let members = try redis.command("ZREVRANGE", .string(keys.dead(queue)), 0, RedisArgument(rawScanLimit - 1)).array ?? []
            for member in members {
                if let bytes = member.bytes, let dead = DeadRecord.decode(bytes), dead.id == id { return dead }
            }
        }
        return nil
    }

    /// One page of dead jobs, newest first, across `queue` or every queue, and how many there
    /// are: O(queues × (offset + limit)), whatever the dead sets' sizes.
    public func page(queue: String? = nil, offset: Int, limit: Int, on redis: RedisConnection) throws(RedisError) -> (jobs: [DeadJob], total: Int) {
        let names: [String]
        if let queue { names = [queue] } else { names = try Queues(keys: keys).names(on: redis) }
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
