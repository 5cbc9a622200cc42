public import FerryHTTP
public import FerryPostgres
public import FerryRedis

/// The shared clients a job may use. Each is thread-safe; the blocking ones are fine to call
/// from handlers, which run on worker threads.
public struct JobServices: Sendable {
    public var redis: RedisConnectionPool
    /// `nil` when no `DATABASE_URL` is configured; jobs that need it fail with a clear error.
    public var postgres: PostgresConnectionPool?
    public var http: HTTPClient
    /// `nil` when no `SMTP_URL` is configured.
    public var smtp: SMTPClient?

    public init(redis: RedisConnectionPool, postgres: PostgresConnectionPool? = nil, http: HTTPClient = HTTPClient(), smtp: SMTPClient? = nil) {
        self.redis = redis
        self.postgres = postgres
        self.http = http
        self.smtp = smtp
    }

    /// The PostgreSQL pool, or a permanent failure naming what to configure.
    public func requirePostgres(for type: String) throws -> PostgresConnectionPool {
        guard let postgres else { throw MissingService(job: type, variable: "DATABASE_URL") }
        return postgres
    }

    /// The SMTP client, or a failure naming what to configure.
    public func requireSMTP(for type: String) throws -> SMTPClient {
        guard let smtp else { throw MissingService(job: type, variable: "SMTP_URL") }
        return smtp
    }
}

/// A job needs a service that the worker was not configured with.
public struct MissingService: Error, Sendable, CustomStringConvertible {
    public var job: String
    public var variable: String
    public var description: String { "\(job) needs \(variable), which is not set for this worker" }
}
