public import FerryRedis

/// A shared client that jobs may use, named by a key type — the runtime knows no client but Redis.
///
/// A job family that needs a new client declares a key beside its jobs, and the app that runs the
/// workers provides a value for it (``JobServices/provide(_:_:)``); nothing in the runtime changes.
///
/// ```swift
/// enum PostgresService: JobServiceKey {
///     typealias Value = PostgresConnectionPool
///     static let configuration = "DATABASE_URL"
/// }
/// let pool = try context.services.require(PostgresService.self, for: Self.type)
/// ```
public protocol JobServiceKey {
    /// The client, shared by every job of a process: thread-safe and fine to call from handlers.
    associatedtype Value: Sendable
    /// What an operator sets to configure the client (an environment variable), for the error a
    /// job gets when it is missing.
    static var configuration: String { get }
}

/// The shared clients jobs may use: Redis (always), and whatever the app provided under a
/// ``JobServiceKey``. Looked up by key type; read-only while jobs run.
public struct JobServices: Sendable {
    /// The worker process's Redis client, for jobs that keep their own data in Redis: commands of
    /// concurrent jobs are pipelined automatically over one shared connection.
    public var redis: RedisClient
    private var provided: [ObjectIdentifier: any Sendable] = [:]

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Makes `value` available to jobs under `key`.
    public mutating func provide<Key: JobServiceKey>(_ key: Key.Type, _ value: Key.Value) {
        provided[ObjectIdentifier(key)] = value
    }

    /// The client under `key`, or nil when the worker was not configured with it.
    public subscript<Key: JobServiceKey>(_ key: Key.Type) -> Key.Value? {
        provided[ObjectIdentifier(key)] as? Key.Value
    }

    /// The client under `key`, or a ``MissingService`` error naming what to configure.
    public func require<Key: JobServiceKey>(_ key: Key.Type, for type: String) throws(MissingService) -> Key.Value {
        guard let value = self[key] else { throw MissingService(job: type, variable: Key.configuration) }
        return value
    }
}

/// A job needs a service that the worker was not configured with.
public struct MissingService: Error, Sendable, CustomStringConvertible {
    public var job: String
    public var variable: String
    public var description: String { "\(job) needs \(variable), which is not set for this worker" }
}
