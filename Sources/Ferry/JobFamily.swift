public import ArgumentParser
public import FerryAdmin
public import FerryPostgres
public import FerryWorker

/// A job family: the handlers of one kind of work and everything that comes with them — the
/// tables they need, what the admin endpoint shows of them, their `ferry` subcommands and the
/// clients they use. A family is one folder; an app lists its families once
/// (``FerryCommand/main(families:)``), and the worker, the scheduler, the admin endpoint,
/// `ferry migrate` and `ferry up` all compose them.
///
/// ```swift
/// struct BillingFamily: JobFamily {
///     let name = "billing"
///     func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
///         try registry.register(ChargeCard())
///     }
///     var migrations: [PostgresMigration] { [BillingSchema.invoices] }
/// }
/// ```
///
/// Every requirement but ``name`` and ``register(in:testJobs:)`` has a default that contributes nothing.
public protocol JobFamily: Sendable {
    /// A short lowercase name (`imports`, `claude`), used in errors and by ``requires``.
    var name: String { get }

    /// Families whose tables this one's migrations refer to (checked when the app starts).
    var requires: [String] { get }

    /// Registers the family's handlers.
    /// - Parameter testJobs: whether jobs that harm their worker on purpose may run (`FERRY_TEST_JOBS=1`).
    func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError)

    /// The family's schema changes. Versions are global across the app's families (one
    /// `schema_migrations` table): Ferry's families use 1 to 99; an app's own start at 100.
    var migrations: [PostgresMigration] { get }

    /// Provides the clients the family's jobs use that the app does not provide already
    /// (PostgreSQL, SMTP and HTTP are; see ``FerryApplication/services(redis:environment:concurrency:)``).
    func provideServices(_ services: inout JobServices, environment: [String: String], concurrency: Int) throws

    /// What the admin endpoint shows of the family (`GET /api/v1/<name>`).
    func adminResources(_ context: AdminContext) -> [AdminResource]

    /// What the admin endpoint does for the family (`POST /api/v1/<name>`).
    func adminActions(_ context: AdminContext) -> [AdminAction]

    /// The family's `ferry` subcommands.
    var commands: [any ParsableCommand.Type] { get }

    /// The family's default cron entries, in the format of `schedules/*.yml` (YAML mapping
    /// entry names to `cron`, `timezone`, `job`, `args`, `queue`, `enabled`, `missed`). An entry
    /// of the same name in the schedules folder replaces one of these (`enabled: false` turns it off).
    var schedules: String { get }
}

/// A family contributes only what it declares: no requirements, migrations, clients, admin
/// resources, commands or schedules unless it says so.
extension JobFamily {
    public var requires: [String] { [] }
    public var migrations: [PostgresMigration] { [] }
    public func provideServices(_ services: inout JobServices, environment: [String: String], concurrency: Int) throws {}
    public func adminResources(_ context: AdminContext) -> [AdminResource] { [] }
    public func adminActions(_ context: AdminContext) -> [AdminAction] { [] }
    public var commands: [any ParsableCommand.Type] { [] }
    public var schedules: String { "" }
}
