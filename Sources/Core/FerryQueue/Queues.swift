public import FerryRedis
import FerrySupport
public import Foundation

/// Sizes of one queue.
public struct QueueStats: Sendable, Equatable, Codable {
    public var ready: Int
    /// Jobs in the scheduled set: delayed jobs and retries waiting for their time.
    public var scheduled: Int
    /// How many of `scheduled` are retries (jobs that failed and will run again).
    public var retries: Int
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
        case ready, scheduled, retries, dead, processed, failed, paused, orphaned, trimmed
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

/// The queues of a namespace: their names, their sizes, and clearing one (Sidekiq's `Stats` and
/// `Queue`).
public struct Queues: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Known queues, sorted.
    public func names(on redis: RedisConnection) throws(RedisError) -> [String] {
        (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string).sorted()
    }

    /// Sizes of every queue. Jobs in flight count per queue whether their worker is live or not;
    /// those of workers silent for longer than `heartbeatTTL` are also counted as orphaned.
    /// A queue that only in-flight lists mention (never registered in `ns:queues`) shows too.
    public func stats(on redis: RedisConnection, now: Date = Date(), heartbeatTTL: Duration = .seconds(30)) throws(RedisError) -> Stats {
        let registry = WorkerRegistry(keys: keys)
        let lists = try registry.inFlightLists(ttl: heartbeatTTL, on: redis)
        let names = Set(try names(on: redis)).union(lists.map(\.queue)).sorted()
        let workers = try registry.liveWorkers(on: redis)
        var result = Stats(queues: [:], processed: 0, failed: 0, workers: workers.count)
        for queue in names {
            let queueLists = lists.filter { $0.queue == queue }
            var commands: [[RedisArgument]] = [
                ["LLEN", .string(keys.ready(queue))], ["ZCARD", .string(keys.scheduled(queue))],
                ["ZCARD", .string(keys.dead(queue))], ["LINDEX", .string(keys.ready(queue)), -1],
                ["GET", .string(keys.processed(queue))], ["GET", .string(keys.failed(queue))],
                ["EXISTS", .string(keys.paused(queue))], ["GET", .string(keys.trimmed(queue))],
                ["GET", .string(keys.retries(queue))],
            ]
            commands += queueLists.map { ["LLEN", .string($0.key)] }
            let replies = try redis.pipeline(commands)
            var latency = 0.0
            if let oldest = replies[3].bytes, let job = try? Job.decode(oldest) {
                latency = min(max(0, now.timeIntervalSince1970 - (job.runAt ?? job.enqueuedAt)), 1e12)
            }
            let lengths = replies[9...].map { $0.int ?? 0 }
            let stats = QueueStats(
                ready: replies[0].int ?? 0, scheduled: replies[1].int ?? 0,
                // The counter can lag the set by a move in flight: never more than the set holds.
                retries: min(replies[1].int ?? 0, max(0, replies[8].int ?? 0)),
                inFlight: lengths.reduce(0, +), orphaned: zip(queueLists, lengths).filter(\.0.orphaned).reduce(0) { $0 + $1.1 },
                dead: replies[2].int ?? 0, trimmed: Self.counter(replies[7]),
                latencyS: (latency * 1000).rounded() / 1000, processed: Self.counter(replies[4]), failed: Self.counter(replies[5]),
                paused: replies[6].int == 1
            )
            result.queues[queue] = stats
            result.processed = result.processed.addingSaturating(stats.processed)
            result.failed = result.failed.addingSaturating(stats.failed)
        }
        return result
    }

    /// A counter kept in Redis, as a count: anyone can write these keys, so what is not a whole
    /// number from 0 to 2^50 reads as 0 or the bound, never as a value that overflows a sum.
    static func counter(_ reply: RedisReply) -> Int {
        min(max(0, reply.int ?? 0), 1 << 50)
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
}
