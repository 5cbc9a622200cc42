public import FerryRedis
public import Foundation

/// What happens to a job whose attempt failed: another attempt later, or the dead set.
public struct FailureRecorder: Sendable {
    public let keys: QueueKeyspace
    public let workerID: String
    /// Most entries kept per queue's dead set; the oldest are dropped past it.
    public let deadCapacity: Int

    public init(keys: QueueKeyspace, workerID: String, deadCapacity: Int = 10_000) {
        self.keys = keys
        self.workerID = workerID
        self.deadCapacity = deadCapacity
    }

    /// Schedules the next attempt of `fetched` at `runAt`, recording `failure` on the job.
    /// Returns false when the job had already left this worker's in-flight list.
    @discardableResult
    public func retry(_ fetched: FetchedJob, job: Job, failure: JobFailure, runAt: Date, on redis: RedisConnection) throws(RedisError) -> Bool {
        var next = job
        next.attempt += 1
        next.error = failure
        next.runAt = runAt.timeIntervalSince1970
        let score = String(Int64((runAt.timeIntervalSince1970 * 1000).rounded()))
        let reply = try redis.run(
            QueueScripts.retry,
            keys: [.string(keys.inflight(fetched.queue, worker: workerID)), .string(keys.scheduled(fetched.queue)), .string(keys.failed(fetched.queue))],
            arguments: [.bytes(fetched.payload), .bytes(next.encoded()), .string(score)]
        )
        return reply.int == 1
    }

    /// Moves `fetched` to the dead set with `failure` as the reason.
    @discardableResult
    public func bury(_ fetched: FetchedJob, failure: JobFailure, on redis: RedisConnection) throws(RedisError) -> Bool {
        let now = Date().timeIntervalSince1970
        let job = try? fetched.job.get()
        let record = DeadRecord.encode(payload: fetched.payload, parsed: job != nil, queue: fetched.queue, failure: failure, diedAt: now)
        var scriptKeys: [RedisArgument] = [
            .string(keys.inflight(fetched.queue, worker: workerID)), .string(keys.dead(fetched.queue)),
            .string(keys.failed(fetched.queue)), .string(keys.crashes(fetched.queue)),
        ]
        if let unique = job?.uniqueKey { scriptKeys.append(.string(keys.unique(fetched.queue, key: unique))) }
        let reply = try redis.run(QueueScripts.bury, keys: scriptKeys, arguments: [
            .bytes(fetched.payload), .bytes(record), .string(String(Int64(now * 1000))), RedisArgument(deadCapacity),
            .string(job?.id ?? ""), .string(job?.id ?? ""),
        ])
        return reply.int == 1
    }
}

/// The JSON of a dead-set entry: `{"died_at": ms, "error": {…}, "job": <job>, "queue": "q"}`, with
/// `"job": null` and `"raw": "<payload>"` when the payload was not a job.
enum DeadRecord {
    static func encode(payload: [UInt8], parsed: Bool, queue: String, failure: JobFailure, diedAt: Double) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings and a struct of plain values always encode.
        let error = try! encoder.encode(failure)
        let queueJSON = try! encoder.encode(queue)
        var record = Array(#"{"died_at":\#(Int64(diedAt * 1000)),"error":"#.utf8) + Array(error)
        if parsed {
            record += Array(#","job":"#.utf8) + payload
        } else {
            let raw = try! encoder.encode(String(decoding: payload, as: UTF8.self))
            record += Array(#","job":null,"raw":"#.utf8) + Array(raw)
        }
        record += Array(#","queue":"#.utf8) + Array(queueJSON) + [UInt8(ascii: "}")]
        return record
    }

    static func decode(_ bytes: [UInt8]) -> DeadJob? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)), let object = value.object,
              let queue = object["queue"]?.string,
              let errorValue = object["error"], let diedAt = object["died_at"]?.double
        else { return nil }
        let failure = (try? JSONDecoder().decode(JobFailure.self, from: JSONEncoder().encode(errorValue)))
            ?? JobFailure(type: "Unknown", message: "no reason recorded", at: diedAt / 1000)
        var job: Job?
        var raw = object["raw"]?.string ?? ""
        if let jobValue = object["job"], jobValue != .null, let data = try? JSONEncoder().encode(jobValue) {
            job = try? JSONDecoder().decode(Job.self, from: data)
            if job == nil { raw = String(decoding: data, as: UTF8.self) }
        }
        return DeadJob(job: job, raw: raw, queue: queue, error: failure, diedAt: diedAt / 1000, record: bytes)
    }
}
