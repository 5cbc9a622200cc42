public import Ferry
public import FerryPostgres
public import FerryWorker

/// The app's users, which the other families' tables refer to (migration 1). No jobs of its own.
public struct AccountsFamily: JobFamily {
    public let name = "accounts"
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {}

    public var migrations: [PostgresMigration] { [Self.users] }

    static let users = PostgresMigration(version: 1, name: "users", sql: """
        CREATE TABLE users (
            id         bigserial PRIMARY KEY,
            handle     text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """)
}
