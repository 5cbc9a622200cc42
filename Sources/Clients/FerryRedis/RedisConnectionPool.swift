public import FerryConnectionPool

/// A pool of ``RedisConnection``s for shared use from many threads.
public typealias RedisConnectionPool = ConnectionPool<RedisConnection>

extension ConnectionPool where Connection == RedisConnection {
    /// A pool of up to `capacity` connections to the server described by `configuration`.
    public convenience init(configuration: RedisConfiguration, capacity: Int = 8) {
        self.init(name: "redis", capacity: capacity) {
            try RedisConnection(configuration: configuration)
        }
    }
}
