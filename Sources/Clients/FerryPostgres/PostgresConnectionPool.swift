public import FerryConnectionPool

/// A pool of ``PostgresConnection``s for shared use from many threads.
public typealias PostgresConnectionPool = ConnectionPool<PostgresConnection>

extension ConnectionPool where Connection == PostgresConnection {
    /// A pool of up to `capacity` connections to the server described by `configuration`.
    public convenience init(configuration: PostgresConfiguration, capacity: Int = 8) {
        self.init(name: "postgres", capacity: capacity) {
            try PostgresConnection(configuration: configuration)
        }
    }
}
