package import FerryRedis
import FerrySupport
import Foundation

/// How an attempt ends, decided once by ``Settlement/after(failure:job:permanent:backoff:)``
/// (or as `.done`) and written by ``Settler``.
package enum Settlement: Sendable, Equatable {
    /// Finished: acknowledged, counted as processed.
    case done
    /// Finished with a result (JSON bytes) for the caller, kept for `ttl` (see ``JobResults``).
    case succeeded(result: [UInt8], ttl: Duration)
    /// Failed with attempts left: runs again after the delay. When it does not spend an attempt
    /// (its worker lacks a service it needs), the attempt number stays.
    case retry(JobFailure, after: Duration, spendsAttempt: Bool = true)
    /// Failed for good: moves to the dead set with the reason.
    case bury(JobFailure)

    /// The one rule for a failed attempt: dead when the error is permanent or no attempts are
    /// left, else another attempt after the backoff's delay.
    public static func after(failure: JobFailure, job: Job, permanent: Bool, backoff: (Int) -> Duration) -> Settlement {
        if permanent { return .bury(failure) }
        guard job.attempt < job.maxAttempts else {
            return .bury(JobFailure(
                type: failure.type, message: "\(failure.message) (attempt \(job.attempt) of \(job.maxAttempts), no attempts left)", at: failure.at
            ))
        }
        return .retry(failure, after: backoff(job.attempt))
    }
}

/// How long the dead set keeps jobs: the newest `capacity` per queue, none older than `maxAge`.
/// What the limits drop is counted (`ns:{q}:trimmed`) and reported, never dropped silently.
public struct DeadSetPolicy: Sendable, Equatable {
    public var capacity: Int
    public var maxAge: Duration

    /// 10,000 jobs per queue and 180 days, as Sidekiq keeps them.
    public init(capacity: Int = 10_000, maxAge: Duration = .seconds(180 * 86_400)) {
        self.capacity = capacity
        self.maxAge = maxAge
    }
}

/// Writes settlements: the only place where a job leaves an in-flight list for good.
/// Every write is idempotent: settling a job that is no longer in flight changes nothing.
package struct Settler: Sendable {
    public let keys: QueueKeyspace
    public let deadSet: DeadSetPolicy
    /// How long the record of a dead job's error is kept for ``JobResults`` readers.
    public let deadResultTTL: Duration

    public init(keys: QueueKeyspace, deadSet: DeadSetPolicy = DeadSetPolicy(), deadResultTTL: Duration = .seconds(86_400)) {
        self.keys = keys
        self.deadSet = deadSet
        self.deadResultTTL = deadResultTTL
    }

    /// What a write did.
    public struct Result: Sendable, Equatable {
        /// False when the job was no longer in flight (already settled or recovered elsewhere).
        public var applied: Bool
        /// Dead jobs dropped by the dead set's limits to make room (bury only).
        public var trimmed = 0
        /// The dead set's size afterwards (bury only).
        public var deadSize = 0
    }

    @discardableResult
    public func settle(_ fetched: FetchedJob, _ settlement: Settlement, on redis: RedisConnection) throws(RedisError) -> Result {
        let list = RedisArgument.string(keys.inflight(fetched.queue, consumer: fetched.consumer))
        let job = try? fetched.job.get()
        switch settlement {
        case .done:
            let (scriptKeys, arguments) = acknowledgement(of: fetched)
            return Result(applied: try redis.run(QueueScripts.ack, keys: scriptKeys, arguments: arguments).int == 1)
        case .succeeded(let output, let ttl):
            // The result first: a waiter woken by it finds it, and if the acknowledgement is lost
            // the job runs again and writes it again.
            if let id = job?.id { try record(JobResults.succeededRecord(output, type: job?.type, args: job?.args), id: id, queue: fetched.queue, ttl: ttl, on: redis) }
            return try settle(fetched, .done, on: redis)
        case .retry(let failure, let delay, let spendsAttempt):
            guard var next = job else { return try settle(fetched, .bury(failure), on: redis) }
            if spendsAttempt { next.attempt += 1 }
            if let previous = next.error { next.failures = Array(((next.failures ?? []) + [previous]).suffix(Job.keptFailures)) }
            next.error = failure
            next.runAt = Date().timeIntervalSince1970 + delay.secondsValue
            let reply = try redis.run(
                QueueScripts.retry,
                keys: [list, .string(keys.scheduled(fetched.queue)), .string(keys.failed(fetched.queue)), .string(keys.crashes(fetched.queue)),
                       .string(keys.ids(fetched.queue)), .string(keys.retries(fetched.queue))],
                arguments: [.bytes(fetched.payload), .bytes(next.encoded()), .string(String(max(0, delay.wholeMilliseconds))),
                            .string(next.id), fetched.isSuspect ? "1" : "0", .string(next.batchMembership.map { keys.batch(fetched.queue, id: $0.id) } ?? ""),
                            .string(next.batchMembership.map { String($0.index) } ?? "")]
            )
            return Result(applied: reply.int == 1)
        case .bury(let failure):
            let reply = try redis.run(
                QueueScripts.bury,
                keys: [list, .string(keys.dead(fetched.queue)), .string(keys.failed(fetched.queue)), .string(keys.crashes(fetched.queue)),
                       .string(keys.trimmed(fetched.queue)), .string(keys.ids(fetched.queue))],
                arguments: [.bytes(fetched.payload), .bytes(DeadRecord.encode(failure)), job != nil ? "1" : "0", .string(fetched.queue),
                            RedisArgument(deadSet.capacity), .string(String(deadSet.maxAge.wholeMilliseconds)),
                            .string(keys.uniquePrefix(fetched.queue)), .string(job?.batchMembership.map { keys.batch(fetched.queue, id: $0.id) } ?? ""),
                            .string(keys.ready(fetched.queue)), .string(job?.batchMembership.map { String($0.index) } ?? "")]
            )
            let values = reply.array?.compactMap(\.int) ?? []
            if values.first == 1, let id = job?.id {
                try record(JobResults.deadRecord(DeadRecord.encode(failure)), id: id, queue: fetched.queue, ttl: deadResultTTL, on: redis)
            }
            return Result(applied: values.first == 1, trimmed: values.count > 1 ? values[1] : 0, deadSize: values.count > 2 ? values[2] : 0)
        }
    }
}

extension Settler {
    /// Keeps a finished job's record for `ttl` and wakes whoever waits for it.
    private func record(_ record: [UInt8], id: String, queue: String, ttl: Duration, on redis: RedisConnection) throws(RedisError) {
        let milliseconds = RedisArgument.string(String(max(1, ttl.wholeMilliseconds)))
        let finished = RedisArgument.string(keys.finished(queue, id: id))
        for reply in try redis.pipeline([
            ["SET", .string(keys.result(queue, id: id)), .bytes(record), "PX", milliseconds],
            ["DEL", finished], ["RPUSH", finished, "1"], ["PEXPIRE", finished, milliseconds],
        ]) { try reply.check() }
    }

    /// Acknowledges a finished job without waiting for Redis's answer: the acknowledgement leaves
    /// at once (one write) and is confirmed by the connection's next call. Until then the caller
    /// keeps the job as unconfirmed, and settles it again (idempotently) if that call fails.
    public func post(_ fetched: FetchedJob, on redis: RedisConnection) throws(RedisError) {
        let (scriptKeys, arguments) = acknowledgement(of: fetched)
        try redis.post(QueueScripts.ack, keys: scriptKeys, arguments: arguments)
    }

    /// Whether `fetched` may be acknowledged later, in a batch (``post(batch:on:)``): a job that
    /// ran in a job thread's list and finished with nothing else to record — no unique key to
    /// release, no batch to count it in, not a crash suspect.
    public static func canAcknowledgeInBatch(_ fetched: FetchedJob) -> Bool {
        !fetched.isSuspect && fetched.isPlain
    }

    /// Acknowledges finished jobs together without waiting for Redis's answer: one write for
    /// all, confirmed by the connection's next call (see ``post(_:on:)``); with `withNextCall`
    /// it leaves in that call's write. Each job must pass ``canAcknowledgeInBatch(_:)``; the lists
    /// are scanned from their oldest end, where the jobs are.
    public func post(batch: [FetchedJob], withNextCall: Bool = false, on redis: RedisConnection) throws(RedisError) {
        var start = batch.startIndex
        while start < batch.endIndex {
            // Consecutive jobs of one list go in one call (a job thread's batch comes from one queue).
            let first = batch[start]
            var end = start + 1
            while end < batch.endIndex, batch[end].queue == first.queue, batch[end].consumer == first.consumer { end += 1 }
            try redis.post(
                QueueScripts.ackBatch, keys: [.string(keys.inflight(first.queue, consumer: first.consumer)), .string(keys.processed(first.queue))],
                arguments: batch[start..<end].map { .bytes($0.payload) }, withNextCall: withNextCall)
            start = end
        }
    }

    private func acknowledgement(of fetched: FetchedJob) -> (keys: [RedisArgument], arguments: [RedisArgument]) {
        let job = try? fetched.job.get()
        var scriptKeys: [RedisArgument] = [
            .string(keys.inflight(fetched.queue, consumer: fetched.consumer)), .string(keys.processed(fetched.queue)),
            .string(keys.crashes(fetched.queue)),
        ]
        if let unique = job?.uniqueKey { scriptKeys.append(.string(keys.unique(fetched.queue, key: unique))) }
        return (scriptKeys, [.bytes(fetched.payload), .string(job?.id ?? ""), fetched.isSuspect ? "1" : "0", .string(job?.id ?? ""),
                             .string(job?.batchMembership.map { keys.batch(fetched.queue, id: $0.id) } ?? ""), .string(keys.ready(fetched.queue)),
                             .string(job?.batchMembership.map { String($0.index) } ?? "")])
    }
}

/// The JSON of a dead-set entry: `{"died_at": ms, "error": {…}, "job": <job>, "queue": "q"}`, with
/// `"job": null` and `"raw": "<payload>"` when the payload was not a job. Records are built by the
/// scripts (`QueueScripts.helpers`); Swift only encodes the error and reads records back.
enum DeadRecord {
    static func encode(_ failure: JobFailure) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out += Array(#""at":"#.utf8)
        JobWriter.write(number: failure.at, &out)
        out += Array(#","message":"#.utf8)
        JobWriter.write(string: failure.message, &out)
        out += Array(#","type":"#.utf8)
        JobWriter.write(string: failure.type, &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func decode(_ bytes: [UInt8]) -> DeadJob? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)), let object = value.object,
              let queue = object["queue"]?.string,
              let errorValue = object["error"], let diedAt = object["died_at"]?.double, diedAt.isFinite
        else { return nil }
        let failure = (try? JSONDecoder().decode(JobFailure.self, from: JSONEncoder().encode(errorValue)))
            ?? JobFailure(type: "Unknown", message: "no reason recorded", at: diedAt / 1000)
        var job: Job?
        var raw = object["raw"]?.string ?? ""
        if let jobValue = object["job"], jobValue != .null, let data = try? JSONEncoder().encode(jobValue) {
            job = try? Job.decode(Array(data))
            if job == nil { raw = String(decoding: data, as: UTF8.self) }
        }
        return DeadJob(job: job, raw: raw, queue: queue, error: failure, diedAt: diedAt / 1000, record: bytes)
    }
}
