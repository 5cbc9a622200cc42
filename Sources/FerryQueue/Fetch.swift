public import FerryRedis

/// A job taken from a ready list into a worker's in-flight list.
///
/// `payload` is the exact bytes stored in Redis: acknowledging, retrying or burying the job
/// removes exactly those bytes from the in-flight list.
public struct FetchedJob: Sendable {
    public let queue: String
    public let payload: [UInt8]
    /// The parsed job, or why the payload is not one.
    public let job: Result<Job, QueueError>

    public init(queue: String, payload: [UInt8]) {
        self.queue = queue
        self.payload = payload
        self.job = Result { () throws(QueueError) in try Job.decode(payload) }
    }
}

/// Reliable fetch (the Sidekiq Pro / BullMQ pattern): a job moves atomically from its queue's
/// ready list to the worker's own in-flight list, and leaves that list only when it is
/// acknowledged, retried, buried or put back. If the worker dies, the list is still there for
/// ``WorkerRegistry/recoverOrphans(crashLimit:deadCapacity:on:)`` to put back.
public struct Fetcher: Sendable {
    public let keys: QueueKeyspace
    public let workerID: String

    public init(keys: QueueKeyspace, workerID: String) {
        self.keys = keys
        self.workerID = workerID
    }

    /// Takes up to `limit` jobs from `queue` without waiting; none while the queue is paused.
    public func fetch(from queue: String, limit: Int, on redis: RedisConnection) throws(RedisError) -> [FetchedJob] {
        let reply = try redis.run(
            QueueScripts.fetch,
            keys: [.string(keys.ready(queue)), .string(keys.inflight(queue, worker: workerID)), .string(keys.paused(queue))],
            arguments: [RedisArgument(limit)]
        )
        return (reply.array ?? []).compactMap { $0.bytes.map { FetchedJob(queue: queue, payload: $0) } }
    }

    /// Waits up to `blockFor` for one job on `queue` (BLMOVE). Callers skip paused queues.
    public func waitForJob(on queue: String, blockFor: Duration, on redis: RedisConnection) throws(RedisError) -> FetchedJob? {
        let (seconds, attoseconds) = blockFor.components
        let timeout = Double(seconds) + Double(attoseconds) / 1e18
        let reply = try redis.blockingCommand(
            ["BLMOVE", .string(keys.ready(queue)), .string(keys.inflight(queue, worker: workerID)), "RIGHT", "LEFT",
             .string(String(format: "%.3f", timeout))],
            blockFor: blockFor
        )
        return reply.bytes.map { FetchedJob(queue: queue, payload: $0) }
    }

    /// Marks finished jobs done, releasing their unique keys. Returns how many were still in flight.
    @discardableResult
    public func acknowledge(_ jobs: [FetchedJob], on redis: RedisConnection) throws(RedisError) -> Int {
        var done = 0
        for (queue, group) in Dictionary(grouping: jobs, by: \.queue) {
            var scriptKeys: [RedisArgument] = [
                .string(keys.inflight(queue, worker: workerID)), .string(keys.processed(queue)), .string(keys.crashes(queue)),
            ]
            var arguments: [RedisArgument] = [RedisArgument(group.count)] + group.map { .bytes($0.payload) }
            for case .success(let job) in group.map(\.job) {
                guard let unique = job.uniqueKey else { continue }
                scriptKeys.append(.string(keys.unique(queue, key: unique)))
                arguments.append(.string(job.id))
            }
            done += try redis.run(QueueScripts.ack, keys: scriptKeys, arguments: arguments).int ?? 0
        }
        return done
    }

    /// Puts jobs back at the front of their ready lists (shutdown, unstarted prefetch).
    @discardableResult
    public func requeue(_ jobs: [FetchedJob], on redis: RedisConnection) throws(RedisError) -> Int {
        var count = 0
        for (queue, group) in Dictionary(grouping: jobs, by: \.queue) {
            count += try redis.run(
                QueueScripts.requeue,
                keys: [.string(keys.inflight(queue, worker: workerID)), .string(keys.ready(queue))],
                arguments: group.map { .bytes($0.payload) }
            ).int ?? 0
        }
        return count
    }
}
