public import ArgumentParser
public import FerryAdmin
import FerryHTTP
public import FerryPostgres
public import FerryRedis
public import FerryScheduler
public import FerryWorker
import Foundation

/// An app's job families, composed: the registry the worker runs, the migrations `ferry
/// migrate` applies, the clients jobs get, what the admin endpoint serves and the subcommands
/// `ferry` offers. Made once, from the list an app passes to ``FerryCommand/main(families:)``.
public struct FerryApplication: Sendable {
    /// The families, in the order given.
    public let families: [any JobFamily]
    /// Every family's migrations, by version.
    public let migrations: [PostgresMigration]

    /// Why a list of families cannot run together.
    public enum Invalid: Error, Sendable, CustomStringConvertible {
        case duplicateFamily(String)
        case missingRequirement(family: String, requires: String)
        case duplicateMigration(version: Int, first: String, second: String)

        public var description: String {
            switch self {
            case .duplicateFamily(let name):
                return "the job family \(name) is listed twice"
            case .missingRequirement(let family, let requires):
                return "the job family \(family) needs the family \(requires) (its tables refer to that one's): add it to the app's families"
            case .duplicateMigration(let version, let first, let second):
                return "migration version \(version) is used by both \(first) and \(second); versions are global across families (Ferry's use 1 to 99, an app's own start at 100)"
            }
        }
    }

    /// Checks that the families can run together: distinct names, every requirement present,
    /// migration versions unique across them.
    public init(families: [any JobFamily]) throws(Invalid) {
        var names: Set<String> = []
        for family in families {
            guard names.insert(family.name).inserted else { throw .duplicateFamily(family.name) }
        }
        for family in families {
            if let missing = family.requires.first(where: { !names.contains($0) }) {
                throw .missingRequirement(family: family.name, requires: missing)
            }
        }
        var owners: [Int: String] = [:]
        var migrations: [PostgresMigration] = []
        for family in families {
            for migration in family.migrations {
                let owner = "\(family.name)/\(migration.name)"
                if let first = owners[migration.version] {
                    throw .duplicateMigration(version: migration.version, first: first, second: owner)
                }
                owners[migration.version] = owner
                migrations.append(migration)
            }
        }
        self.init(checked: families, migrations: migrations.sorted { $0.version < $1.version })
    }

    init(checked families: [any JobFamily], migrations: [PostgresMigration]) {
        self.families = families
        self.migrations = migrations
    }

    /// Every job type of the families, with `<jobsDirectory>/<type>.yml` applied (nil: none read).
    public func registry(jobsDirectory: String?, testJobs: Bool) throws(JobRegistry.RegistrationError) -> JobRegistry {
        var registry = JobRegistry(settingsDirectory: jobsDirectory)
        for family in families { try family.register(in: &registry, testJobs: testJobs) }
        return registry
    }

    /// Applies ``migrations`` exactly once each, in order.
    public var migrator: PostgresMigrator { PostgresMigrator(migrations: migrations) }

    /// The clients of one worker process: HTTP always, PostgreSQL with `DATABASE_URL`, SMTP with
    /// `SMTP_URL`, and what each family adds.
    public func services(redis: RedisClient, environment: [String: String], concurrency: Int) throws -> JobServices {
        var services = JobServices(redis: redis)
        // One kept-alive connection per job thread at most, so concurrent API calls reuse theirs.
        services.provide(HTTPService.self, FerryHTTPClient(keepAliveHandles: max(8, concurrency)))
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            // Jobs hold a connection for their queries, not for their whole run (except imports):
            // past 20 threads a process shares 20 connections rather than open one per thread
            // (PostgreSQL allows 100 by default, for every process of the fleet together).
            services.provide(PostgresService.self, PostgresConnectionPool(configuration: try PostgresConfiguration(url: url), capacity: min(concurrency, 20)))
        }
        if let url = environment["SMTP_URL"], !url.isEmpty {
            services.provide(SMTPService.self, try SMTPClient(url: url))
        }
        for family in families { try family.provideServices(&services, environment: environment, concurrency: concurrency) }
        return services
    }

    /// The families' admin resources and actions.
    public func admin(_ context: AdminContext) -> (resources: [AdminResource], actions: [AdminAction]) {
        (families.flatMap { $0.adminResources(context) }, families.flatMap { $0.adminActions(context) })
    }

    /// The cron entries to run: the families' defaults, with the `.yml` files of `directory` (if
    /// it exists) laid over them by name. Every problem is thrown at once, naming the family or
    /// file and the entry.
    public func schedules(directory: String, knownTypes: Set<String>) throws(ScheduleErrors) -> [ScheduleEntry] {
        var defaults: [ScheduleEntry] = []
        var errors: [ScheduleFileError] = []
        var owners: [String: String] = [:]
        for family in families where !family.schedules.isEmpty {
            let source = "the \(family.name) family's default schedules"
            let (entries, problems) = ScheduleFile.parse(yaml: family.schedules, file: source, knownTypes: knownTypes)
            errors += problems
            for entry in entries {
                if let other = owners[entry.name] {
                    errors.append(ScheduleFileError(file: source, entry: entry.name, message: "the name is already used in \(other)"))
                }
                owners[entry.name] = source
            }
            defaults += entries
        }
        guard errors.isEmpty else { throw ScheduleErrors(errors: errors) }
        guard FileManager.default.fileExists(atPath: directory) else { return defaults }
        return ScheduleFile.merge(defaults: defaults, overrides: try ScheduleFile.load(directory: directory, knownTypes: knownTypes))
    }

    /// The families' `ferry` subcommands.
    public var commands: [any ParsableCommand.Type] { families.flatMap(\.commands) }
}
