/// The Redis keys of Ferry, under a namespace (`ferry` unless `FERRY_NAMESPACE` says otherwise).
///
/// Every key of one queue carries the hash tag `{queue}`, so a queue's keys live in one Redis
/// Cluster slot and each multi-key transition can be one Lua script.
///
/// | key | type | holds |
/// | --- | --- | --- |
/// | `ns:{q}:ready` | list | job JSON waiting to run; LPUSH to enqueue, taken from the right |
/// | `ns:{q}:inflight:<worker>/<slot>` | list | jobs one job thread of a worker process has taken and not yet finished; the rightmost is the one running |
/// | `ns:{q}:inflight:<worker>/isolated` | list | the crash suspect a worker process is running alone |
/// | `ns:{q}:scheduled` | zset | delayed jobs and retries, score = due time in ms |
/// | `ns:{q}:dead` | zset | dead-job records, score = time of death in ms |
/// | `ns:{q}:paused` | string | present while the queue is paused |
/// | `ns:{q}:crashes` | hash | crash suspects: job id → times the job took down a worker while running alone |
/// | `ns:{q}:unique:<key>` | string | id of the job holding a unique key, with a TTL |
/// | `ns:{q}:processed`, `ns:{q}:failed` | string | counters |
/// | `ns:{q}:ids` | hash | job id → `s:<score>` (delayed), `r:<score>` (retry) or `d:<score>` (dead): where it is, by score |
/// | `ns:{q}:retries` | string | how many jobs of the scheduled set are retries |
/// | `ns:{q}:trimmed` | string | dead jobs dropped by the dead set's age and size limits |
/// | `ns:{q}:result:<id>` | string | a finished job's result record (`succeeded` with its result, or `dead` with its error), with a TTL |
/// | `ns:{q}:finished:<id>` | list | one element once the job has a result record, for waiters to block on (same TTL) |
/// | `ns:{q}:schedule:<entry>` | string | last tick (ms) enqueued for a scheduler entry |
/// | `ns:{q}:batch:<id>:info` | hash | a batch: description, total, succeeded, failed, dead, sealed, callbacks, times |
/// | `ns:{q}:batch:<id>:pending` | string | bitmap: bit i set while job i of the batch has not ended |
/// | `ns:{q}:batches` | zset | batch ids, score = creation time (ms); entries older than 8 days are dropped |
/// | `ns:{q}:granted:<type>:<n>` | string | grant `n` of a type's rate limiter already delivered to the queue (1 h TTL) |
/// | `ns:{limit:<type>}:…` | | a job type's rate limiter (see ``RateLimiter``) |
/// | `ns:limiters` | hash | job type → its rate limit as JSON, written by the workers |
/// | `ns:queues` | set | names of known queues |
/// | `ns:workers` | zset | worker process ids, score = last heartbeat in ms (Redis server clock) |
/// | `ns:consumers:<worker>` | set | the in-flight lists a worker process may hold, as `<slot>\|<queue>` |
/// | `ns:worker:<id>` | hash | a worker's host, pid, queues, start time; expires without heartbeats |
public struct QueueKeyspace: Sendable, Equatable {
    public let namespace: String

    public init(namespace: String = "ferry") {
        self.namespace = namespace
    }

    public func ready(_ queue: String) -> String { "\(namespace):{\(queue)}:ready" }
    public func inflight(_ queue: String, worker: String) -> String { "\(namespace):{\(queue)}:inflight:\(worker)" }
    public func scheduled(_ queue: String) -> String { "\(namespace):{\(queue)}:scheduled" }
    public func dead(_ queue: String) -> String { "\(namespace):{\(queue)}:dead" }
    public func paused(_ queue: String) -> String { "\(namespace):{\(queue)}:paused" }
    public func crashes(_ queue: String) -> String { "\(namespace):{\(queue)}:crashes" }
    public func unique(_ queue: String, key: String) -> String { "\(namespace):{\(queue)}:unique:\(key)" }
    public func processed(_ queue: String) -> String { "\(namespace):{\(queue)}:processed" }
    public func failed(_ queue: String) -> String { "\(namespace):{\(queue)}:failed" }
    public func trimmed(_ queue: String) -> String { "\(namespace):{\(queue)}:trimmed" }
    public func ids(_ queue: String) -> String { "\(namespace):{\(queue)}:ids" }
    /// How many of the scheduled set's jobs are retries (the rest are delayed jobs).
    public func retries(_ queue: String) -> String { "\(namespace):{\(queue)}:retries" }
    /// The prefix of every unique key of `queue` (scripts append the key).
    public func uniquePrefix(_ queue: String) -> String { "\(namespace):{\(queue)}:unique:" }
    public func result(_ queue: String, id: String) -> String { "\(namespace):{\(queue)}:result:\(id)" }
    public func finished(_ queue: String, id: String) -> String { "\(namespace):{\(queue)}:finished:\(id)" }
    /// A value job `id` keeps across its attempts (``JobStore``).
    public func stored(_ queue: String, id: String, name: String) -> String { "\(namespace):{\(queue)}:store:\(id):\(name)" }
    public func schedule(_ queue: String, entry: String) -> String { "\(namespace):{\(queue)}:schedule:\(entry)" }
    /// The prefix of the keys of batch `id` (`info` hash, `pending` bitmap), in its queue's slot.
    public func batch(_ queue: String, id: String) -> String { "\(namespace):{\(queue)}:batch:\(id):" }
    /// The batches of `queue`: id → creation time (ms), for listing the recent ones.
    public func batches(_ queue: String) -> String { "\(namespace):{\(queue)}:batches" }
    /// The prefix of every batch of `queue` (scripts append `<id>:`).
    public func batchPrefix(_ queue: String) -> String { "\(namespace):{\(queue)}:batch:" }
    /// The prefix of grant numbers delivered to `queue` by rate limiters (scripts append the number).
    public func granted(_ queue: String) -> String { "\(namespace):{\(queue)}:granted:" }
    /// The prefix of every key of the rate limiter of job type `type`.
    public func limiter(_ type: String) -> String { "\(namespace):{limit:\(type)}:" }
    /// The prefix of every key of the ``TokenBudget`` of `scope`.
    public func budget(_ scope: String) -> String { "\(namespace):{budget:\(scope)}:" }
    public var limiters: String { "\(namespace):limiters" }
    /// Job outcomes per type in one minute (`bucket`: Unix minutes) or hour (Unix hours): a hash.
    public func health(minute bucket: Int64) -> String { "\(namespace):health:m:\(bucket)" }
    public func health(hour bucket: Int64) -> String { "\(namespace):health:h:\(bucket)" }
    public var queues: String { "\(namespace):queues" }
    public var workers: String { "\(namespace):workers" }
    public func worker(_ id: String) -> String { "\(namespace):worker:\(id)" }
    public func consumers(_ worker: String) -> String { "\(namespace):consumers:\(worker)" }
    /// The in-flight list of `consumer` for `queue`.
    package func inflight(_ queue: String, consumer: Consumer) -> String { inflight(queue, worker: consumer.name) }
}
