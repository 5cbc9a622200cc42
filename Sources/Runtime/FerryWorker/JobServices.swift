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

    /// Services with Redis only; add others with ``provide(_:_:)``.
    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Whether `service` was provided.
    public func provides(_ service: RequiredService) -> Bool {
        provided[service.key] != nil
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

/// A service a job type cannot run without (``JobHandler/requiredServices``): a worker that
/// lacks it says so when it starts, and its jobs of that type wait for it.
public struct RequiredService: Sendable, Hashable {
    let key: ObjectIdentifier
    /// What configures it (``JobServiceKey/configuration``), for the messages that name it.
    public let configuration: String

    /// The service under `key`.
    public init<Key: JobServiceKey>(_ key: Key.Type) {
        self.key = ObjectIdentifier(key)
        configuration = Key.configuration
    }
}

/// A job needs a service that the worker was not configured with. Retrying on this worker cannot
/// help until its configuration changes, so the job does not spend an attempt: it waits in the
/// retries (checked again every minute, on any worker), with this as its reason.
public struct MissingService: Error, Sendable, CustomStringConvertible {
    /// The job type.
    public var job: String
    /// What to set (an environment variable).
    public var variable: String
    public var description: String { "\(job) needs \(variable), which is not set for this worker; the job waits (no attempt spent) until a worker that has it runs it" }
}
