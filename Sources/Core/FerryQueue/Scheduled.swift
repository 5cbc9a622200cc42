package import FerryRedis

/// Moves delayed jobs and retries whose time has come to their ready lists, atomically and once.
package struct ScheduledPromoter: Sendable {
    public let keys: QueueKeyspace
    /// Most jobs moved per queue per call, so one call never blocks Redis for long.
    public let batchSize: Int

    public init(keys: QueueKeyspace, batchSize: Int = 1000) {
        self.keys = keys
        self.batchSize = batchSize
    }

    /// Promotes every job of `queues` that is due by the Redis server's clock; returns how many moved.
    @discardableResult
    public func promoteDue(in queues: [String], on redis: RedisConnection) throws(RedisError) -> Int {
        var moved = 0
        for queue in queues {
            while true {
                let count = try redis.run(
                    QueueScripts.promote, keys: [.string(keys.scheduled(queue)), .string(keys.ready(queue)), .string(keys.ids(queue)), .string(keys.retries(queue))],
                    arguments: [RedisArgument(batchSize)]
                ).int ?? 0
                moved += count
                if count < batchSize { break }
            }
        }
        return moved
    }
}
