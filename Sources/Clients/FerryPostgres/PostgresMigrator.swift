/// One versioned schema change.
public struct PostgresMigration: Sendable {
    public let version: Int
    public let name: String
    let sql: String

    /// `sql` is a literal in the code (several statements allowed), never text built from input.
    public init(version: Int, name: String, sql: StaticString) {
        self.version = version
        self.name = name
        self.sql = sql.description
    }
}

/// Applies versioned migrations exactly once each, in order, recording them in `schema_migrations`.
///
/// Each migration runs in its own transaction: it applies whole or not at all. Concurrent runs
/// (two deploys at once) are serialized by an advisory lock, so running migrate twice — or twice
/// at once — is a no-op the second time.
public struct PostgresMigrator: Sendable {
    public let migrations: [PostgresMigration]

    /// A migration that failed, naming it; nothing of it was applied.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var version: Int
        public var name: String
        public var reason: PostgresError
        public var description: String { "migration \(version) (\(name)) failed and was rolled back: \(reason)" }
    }

    public init(migrations: [PostgresMigration]) {
        precondition(Set(migrations.map(\.version)).count == migrations.count, "migration versions must be unique")
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies the migrations not applied yet; returns those it applied.
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [PostgresMigration] {
        try connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [PostgresMigration] = []
        for migration in migrations {
            do {
                let ran = try connection.transaction { tx -> Bool in
                    // One migrator at a time; the lock ends with the transaction.
                    try tx.query("SELECT pg_advisory_xact_lock(74612026)")
                    let done = try tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version])
                    guard done.rows.isEmpty else { return false }
                    try tx.executeScript(trusted: migration.sql)
                    try tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name])
                    return true
                }
                if ran { applied.append(migration) }
            } catch let error as PostgresError {
                throw Failure(version: migration.version, name: migration.name, reason: error)
            }
        }
        return applied
    }

    /// Versions recorded as applied.
    public func appliedVersions(_ connection: PostgresConnection) throws -> [Int] {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists.first?.decode("present", as: Bool.self) == true else { return [] }
        return try connection.query("SELECT version FROM schema_migrations ORDER BY version").rows.map { try $0.decode("version", as: Int.self) }
    }
}
