import FerryAdmin
public import FerryPostgres
public import FerryWorker
import Logging

/// What a family's admin resources and actions may use: the app's registry (with its
/// settings), its environment, and PostgreSQL when `DATABASE_URL` is set.
public struct AdminContext: Sendable {
    /// The app's job types with their settings.
    public let registry: JobRegistry
    /// The environment the admin server runs with.
    public let environment: [String: String]
    /// PostgreSQL, when `DATABASE_URL` is set.
    public let postgres: PostgresConnectionPool?

    /// A context over `registry`, `environment` and `postgres`.
    public init(registry: JobRegistry, environment: [String: String], postgres: PostgresConnectionPool?) {
        self.registry = registry
        self.environment = environment
        self.postgres = postgres
    }

    /// Runs `body` on a PostgreSQL connection, turning a missing configuration or a driver error
    /// into an answer that names neither hosts nor users (those go to the admin server's log).
    /// - Parameter what: what is read, for the answer (`imports`, `Claude calls`).
    public func query<Value>(_ what: String, _ body: (PostgresConnection) throws -> Value) throws -> Value {
        guard let postgres else { throw AdminResource.Failure.unavailable("\(what) live in PostgreSQL: start the admin server with DATABASE_URL") }
        do {
            return try postgres.withConnection(body)
        } catch let error as PostgresError {
            Logger(label: "ferry.admin").error("reading \(what) failed", metadata: ["error": "\(error)"])
            throw AdminResource.Failure.unavailable("PostgreSQL did not answer; see the admin server's log")
        }
    }
}
