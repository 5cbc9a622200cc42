package import FerryRedis
import FerrySupport

/// A job taken from a ready list into a consumer's in-flight list.
///
/// `payload` is the exact bytes stored in Redis: settling or putting back the job removes
/// exactly those bytes from the in-flight list.
package struct FetchedJob: Sendable {
    public let queue: String
    public let payload: [UInt8]
    /// The in-flight list that holds the job now.
    public internal(set) var consumer: Consumer
    /// True when the job was in flight on a worker process that died, and has not finished since:
    /// it runs alone in its process so that, if it crashes it again, only it is blamed.
    public let isSuspect: Bool
    /// The parsed job, or why the payload is not one.
    public var job: Result<Job, QueueError> { parsed.job }
    /// The job's id, nil when the payload did not parse: cheaper than a copy of ``job``.
    public var jobID: String? { parsed.id }
    /// The job's type, nil when the payload did not parse: cheaper than a copy of ``job``.
    public var jobType: String? { parsed.type }
    /// Whether the job parsed and has neither a unique key nor a batch to settle when it ends.
    var isPlain: Bool { parsed.isPlain }
    // Boxed: a fetched job is copied several times on its way through a job thread, and a copy
    // of the box is one retain where a copy of the job retains each of its strings.
    private let parsed: Parsed

    public init(queue: String, payload: [UInt8], consumer: Consumer, isSuspect: Bool = false) {
        self.queue = queue
        self.payload = payload
        self.consumer = consumer
        self.isSuspect = isSuspect
        self.parsed = Parsed(Result { () throws(QueueError) in try Job.decode(payload) })
    }

    private final class Parsed: Sendable {
        let job: Result<Job, QueueError>
        let id: String?
        let type: String?
        let isPlain: Bool

        init(_ job: Result<Job, QueueError>) {
            self.job = job
            if case .success(let parsed) = job {
                (id, type) = (parsed.id, parsed.type)
                isPlain = parsed.uniqueKey == nil && parsed.batchMembership == nil
            } else {
                (id, type, isPlain) = (nil, nil, false)
            }
        }
    }
}

/// Reliable fetch (the Sidekiq Pro / BullMQ pattern): a job moves atomically from its queue's
/// ready list to its consumer's own in-flight list, and leaves that list only when it is
/// settled (acknowledged, retried, buried) or put back. If the process dies, the list is still
/// there for ``WorkerRegistry`` to recover.
package struct Fetcher: Sendable {
    public let keys: QueueKeyspace
    public let consumer: Consumer

    public init(keys: QueueKeyspace, consumer: Consumer) {
        self.keys = keys
        self.consumer = consumer
    }

    /// Takes up to `limit` jobs from `queue` without waiting; none while the queue is paused.
    public func fetch(from queue: String, limit: Int, on redis: RedisConnection) throws(RedisError) -> [FetchedJob] {
        let reply = try redis.run(
            QueueScripts.fetch,
            keys: [.string(keys.ready(queue)), .string(keys.inflight(queue, consumer: consumer)), .string(keys.paused(queue)),
                   .string(keys.crashes(queue))],
            arguments: [RedisArgument(limit)]
        )
        let parts = reply.array ?? []
        let jobs = parts.first?.array ?? []
        let suspects = parts.count > 1 ? (parts[1].array ?? []) : []
        return jobs.enumerated().compactMap { index, job in
            job.bytes.map {
                FetchedJob(queue: queue, payload: $0, consumer: consumer, isSuspect: index < suspects.count && suspects[index].int == 1)
            }
        }
    }

    /// Waits up to `blockFor` for one job on `queue` (BLMOVE). Callers skip paused queues.
    public func waitForJob(on queue: String, blockFor: Duration, on redis: RedisConnection) throws(RedisError) -> FetchedJob? {
        let reply = try redis.blockingCommand(
            ["BLMOVE", .string(keys.ready(queue)), .string(keys.inflight(queue, consumer: consumer)), "RIGHT", "LEFT",
             .string(String(format: "%.3f", blockFor.secondsValue))],
            blockFor: blockFor
        )
        guard let payload = reply.bytes else { return nil }
        var suspect = false
        if case .success(let job) = Result(catching: { () throws(QueueError) in try Job.decode(payload) }) {
            suspect = try redis.command("HEXISTS", .string(keys.crashes(queue)), .string(job.id)).int == 1
        }
        return FetchedJob(queue: queue, payload: payload, consumer: consumer, isSuspect: suspect)
    }

    /// Puts unstarted or interrupted jobs back at the front of their ready lists, the first of
    /// `jobs` to be taken next. Returns how many were still in flight.
    @discardableResult
    public func requeue(_ jobs: [FetchedJob], on redis: RedisConnection) throws(RedisError) -> Int {
        var count = 0
        var byList: [(key: String, queue: String, jobs: [FetchedJob])] = []
        for job in jobs {
            let key = keys.inflight(job.queue, consumer: job.consumer)
            if let index = byList.firstIndex(where: { $0.key == key }) { byList[index].jobs.append(job) } else { byList.append((key, job.queue, [job])) }
        }
        for group in byList {
            count += try redis.run(
                QueueScripts.requeue, keys: [.string(group.key), .string(keys.ready(group.queue))],
                arguments: group.jobs.map { .bytes($0.payload) }
            ).int ?? 0
        }
        return count
    }

    /// Puts back everything left in this consumer's in-flight lists of `queues`, oldest first:
    /// what a consumer does after a Redis error, when it cannot know what its lists hold.
    /// Returns how many jobs went back.
    @discardableResult
    public func requeueAll(queues: [String], on redis: RedisConnection) throws(RedisError) -> Int {
        var count = 0
        for queue in queues {
            count += try redis.run(
                QueueScripts.requeueAll, keys: [.string(keys.inflight(queue, consumer: consumer)), .string(keys.ready(queue))]
            ).int ?? 0
        }
        return count
    }

    /// Moves a crash suspect to the process's isolation list before it runs alone; returns the
    /// job as it is held now.
    public func isolate(_ fetched: FetchedJob, on redis: RedisConnection) throws(RedisError) -> FetchedJob {
        let isolated = Consumer(worker: consumer.worker, lane: .isolated)
        _ = try redis.run(
            QueueScripts.isolate,
            keys: [.string(keys.inflight(fetched.queue, consumer: fetched.consumer)), .string(keys.inflight(fetched.queue, consumer: isolated))],
            arguments: [.bytes(fetched.payload)]
        )
        var moved = fetched
        moved.consumer = isolated
        return moved
    }
}
