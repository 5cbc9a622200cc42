public import FerryRedis
import FerrySupport
import Foundation

/// Finds a job by id wherever Ferry keeps it: running, waiting, scheduled, retrying or dead.
public struct JobLocator: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

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
        if id.hasPrefix("raw-"), let dead = try DeadSet(keys: keys).job(id: id, on: redis) { return (dead.job, .dead(dead)) }
        for queue in try Queues(keys: keys).names(on: redis) {
            for member in try redis.command("LRANGE", .string(keys.ready(queue)), 0, RedisArgument(readyScanLimit - 1)).array ?? [] {
                if let bytes = member.bytes, let job = try? Job.decode(bytes), job.id == id { return (job, .ready) }
            }
        }
        return try fetchedSinceHeartbeat(id: id, on: redis)
    }

    /// A job fetched since its worker's last heartbeat: in one of the worker's in-flight lists but
    /// not yet among the busy jobs its heartbeat lists (without this, a waiter asking in between
    /// would not know the job's queue).
    func fetchedSinceHeartbeat(id: String, on redis: RedisConnection) throws(RedisError) -> (Job?, Location)? {
        let workers = (try redis.command("ZRANGE", .string(keys.workers), 0, -1).array ?? []).compactMap(\.string)
        guard !workers.isEmpty else { return nil }
        let consumers = try redis.pipeline(workers.map { ["SMEMBERS", .string(keys.consumers($0))] })
        for (worker, members) in zip(workers, consumers) {
            for member in (members.array ?? []).compactMap(\.string) {
                guard let (consumer, queue) = Consumer.parse(member: member, worker: worker) else { continue }
                for entry in try redis.command("LRANGE", .string(keys.inflight(queue, consumer: consumer)), 0, -1).array ?? [] {
                    if let bytes = entry.bytes, let job = try? Job.decode(bytes), job.id == id { return (job, .running(worker: worker)) }
                }
            }
        }
        return nil
    }

    /// Where the id index says job `id` waits (scheduled set) or lies (dead set), read back from
    /// that set: one HGET per queue, then the members with that one score.
    func indexed(id: String, on redis: RedisConnection) throws(RedisError) -> (scheduled: ScheduledJob?, dead: DeadJob?) {
        let names = try Queues(keys: keys).names(on: redis)
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
}
