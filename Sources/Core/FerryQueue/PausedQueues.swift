public import FerryRedis

/// Paused queues: set by admins, read by every worker before it fetches.
public struct PausedQueues: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Pauses `queue`: workers fetch nothing from it until it is resumed.
    public func pause(_ queue: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command("SET", .string(keys.paused(queue)), "1")
        try redis.command("SADD", .string(keys.queues), .string(queue))
    }

    /// Resumes `queue`.
    public func resume(_ queue: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command("DEL", .string(keys.paused(queue)))
    }

    /// Which of `queues` are paused now.
    public func paused(among queues: [String], on redis: RedisConnection) throws(RedisError) -> Set<String> {
        guard !queues.isEmpty else { return [] }
        let replies = try redis.pipeline(queues.map { ["EXISTS", .string(keys.paused($0))] })
        return Set(zip(queues, replies).filter { $0.1.int == 1 }.map(\.0))
    }
}
