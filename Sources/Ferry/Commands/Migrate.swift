import ArgumentParser
import FerryPostgres

/// `ferry migrate`: bring the PostgreSQL schema of the jobs up to date.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema migrations the jobs need to DATABASE_URL.",
        discussion: """
            Versioned and idempotent: each migration runs once, in its own transaction, recorded in
            schema_migrations; running migrate again (or twice at once) does nothing. A failing
            migration is rolled back whole and named.
            """
    )

    @Flag(help: "Only list the migrations and whether each is applied.")
    var status = false

    func run() throws {
        guard let url = FerryEnvironment().databaseURL else {
            throw ValidationError("DATABASE_URL is not set (postgres://user:password@host:5432/database)")
        }
        let connection = try PostgresConnection(url: url)
        let migrator = FerryApplication.current.migrator
        if status {
            let applied = Set(try migrator.appliedVersions(connection))
            for migration in migrator.migrations {
                print("\(applied.contains(migration.version) ? "applied" : "pending")  \(migration.version)  \(migration.name)")
            }
            return
        }
        let ran = try migrator.migrate(connection)
        if ran.isEmpty {
            print("schema up to date (\(migrator.migrations.count) migrations)")
        } else {
            for migration in ran { print("applied \(migration.version) \(migration.name)") }
        }
    }
}
