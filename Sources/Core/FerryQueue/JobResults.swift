public import FerryRedis
import FerrySupport
import Foundation

/// How a finished job ended, as kept for whoever enqueued it: its result, or the error that
/// sent it to the dead set.
public struct JobResult: Sendable, Equatable {
    public enum Status: String, Sendable {
        case succeeded
        case dead
    }

    public var status: Status
    /// When the job finished (Unix seconds).
    public var finishedAt: Double
    /// What the handler handed back (``Status/succeeded``).
    public var value: JSONValue?
    /// Why the job died (``Status/dead``).
    public var error: JobFailure?
    /// The job's type, when the record names it (records written since it was added).
    public var type: String?
    /// The job's arguments, when the record keeps them (up to ``JobResults/keptArguments`` bytes).
    public var args: JSONValue?
}

/// Finished jobs' records: kept in Redis with a TTL (`result_ttl` of the job type, 24 h by
/// default) when a handler hands a result back or a job dies, so that the API tier can read or
/// wait for them.
///
/// ```swift
/// let id = try dispatcher.enqueue(.init(type: "claude.message", args: …))
/// if let result = try JobResults(keys: keys).wait(id: id, queue: "default", timeout: .seconds(30), on: redis) { … }
/// ```
public struct JobResults: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// The record of job `id` of `queue`, if it finished and its record has not expired.
    public func result(id: String, queue: String, on redis: RedisConnection) throws(RedisError) -> JobResult? {
        try redis.command("GET", .string(keys.result(queue, id: id))).bytes.flatMap(Self.decode)
    }

    /// The record of job `id` in any known queue (one GET per queue, in one round trip).
    public func find(id: String, on redis: RedisConnection) throws(RedisError) -> (queue: String, result: JobResult)? {
        let queues = try Queues(keys: keys).names(on: redis)
        guard !queues.isEmpty else { return nil }
        let replies = try redis.pipeline(queues.map { ["GET", .string(keys.result($0, id: id))] })
        for (queue, reply) in zip(queues, replies) {
            if let bytes = reply.bytes, let result = Self.decode(bytes) { return (queue, result) }
        }
        return nil
    }

    /// Waits up to `timeout` for job `id` of `queue` to finish with a record, blocking on the
    /// server (no polling); nil when the time is up first. Use a connection of its own: it is
    /// blocked meanwhile.
    public func wait(id: String, queue: String, timeout: Duration, on redis: RedisConnection) throws(RedisError) -> JobResult? {
        if let result = try result(id: id, queue: queue, on: redis) { return result }
        guard timeout > .zero else { return nil }
        let finished = RedisArgument.string(keys.finished(queue, id: id))
        // BLMOVE onto the same list leaves the element for any other waiter.
        let seconds = String(format: "%.3f", max(0.001, timeout.secondsValue))
        _ = try redis.blockingCommand(["BLMOVE", finished, finished, "RIGHT", "LEFT", .string(seconds)], blockFor: timeout)
        return try result(id: id, queue: queue, on: redis)
    }

    /// The largest arguments (encoded) a finished job's record keeps beside its result, so that
    /// its page can show what it ran with; larger ones are left out.
    public static let keptArguments = 4096

    static func succeededRecord(_ value: [UInt8], type: String? = nil, args: JSONValue? = nil) -> [UInt8] {
        var out = record(.succeeded, field: "result", value)
        // Type names follow ``Names``: no character needs escaping in JSON.
        if let type, Names.isValid(type) { out.removeLast(); out += Array(",\"type\":\"\(type)\"}".utf8) }
        if let args, let encoded = try? JSONEncoder().encode(args), encoded.count <= keptArguments {
            out.removeLast()
            out += Array(",\"args\":".utf8) + Array(encoded) + [UInt8(ascii: "}")]
        }
        return out
    }

    static func deadRecord(_ error: [UInt8]) -> [UInt8] { record(.dead, field: "error", error) }

    /// `{"status":…,"finished_at":<now>,"<field>":<json>}`
    private static func record(_ status: JobResult.Status, field: String, _ json: [UInt8]) -> [UInt8] {
        var out = Array(#"{"status":""#.utf8) + Array(status.rawValue.utf8) + Array(#"","finished_at":"#.utf8)
        JobWriter.write(number: Date().timeIntervalSince1970, &out)
        out += Array(",\"\(field)\":".utf8) + json
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func decode(_ bytes: [UInt8]) -> JobResult? {
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.object,
              let status = object["status"]?.string.flatMap(JobResult.Status.init(rawValue:)),
              let finishedAt = object["finished_at"]?.double
        else { return nil }
        var error: JobFailure?
        if let failure = object["error"]?.object, let type = failure["type"]?.string, let message = failure["message"]?.string {
            error = JobFailure(type: type, message: message, at: failure["at"]?.double ?? finishedAt)
        }
        return JobResult(status: status, finishedAt: finishedAt, value: object["result"], error: error, type: object["type"]?.string, args: object["args"])
    }
}
