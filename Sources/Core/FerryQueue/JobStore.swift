public import FerryRedis
import FerrySupport

/// Values a job keeps across its attempts — an answer it paid for but could not record yet, a
/// cursor — under its id, for a time it chooses. Jobs keep such things here rather than under
/// Redis keys of their own: the keys stay in the queue's namespace and hash slot, and the
/// names cannot reach another job's values or the queue's own keys.
public struct JobStore: Sendable {
    public let keys: QueueKeyspace
    public let queue: String
    public let jobID: String

    /// The longest a value may be kept: 30 days.
    public static let longestTTL = Duration.seconds(30 * 86_400)

    public init(keys: QueueKeyspace, queue: String, jobID: String) {
        self.keys = keys
        self.queue = queue
        self.jobID = jobID
    }

    /// The value kept under `name`, if any (and not expired).
    public func value(_ name: String, on connection: RedisConnection) throws(QueueError) -> [UInt8]? {
        let key = try key(name)
        do { return try connection.command("GET", .string(key)).bytes } catch { throw .redis(error) }
    }

    /// Keeps `value` under `name` for `ttl` (1 ms to ``longestTTL``), replacing what was there.
    public func set(_ name: String, to value: [UInt8], for ttl: Duration, on connection: RedisConnection) throws(QueueError) {
        let key = try key(name)
        guard ttl >= .milliseconds(1), ttl <= Self.longestTTL else {
            throw .invalidJob("a kept value lives from 1 ms to 30 days, not \(ttl)")
        }
        do {
            try connection.command("SET", .string(key), .bytes(value), "PX", .string(String(ttl.wholeMilliseconds)))
        } catch {
            throw .redis(error)
        }
    }

    /// Drops the value kept under `name` (nothing when there is none).
    public func remove(_ name: String, on connection: RedisConnection) throws(QueueError) {
        let key = try key(name)
        do { try connection.command("DEL", .string(key)) } catch { throw .redis(error) }
    }

    private func key(_ name: String) throws(QueueError) -> String {
        try Names.validate(name, what: "kept value's name")
        return keys.stored(queue, id: jobID, name: name)
    }
}
