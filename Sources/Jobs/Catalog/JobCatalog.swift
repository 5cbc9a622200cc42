public import Ferry
public import FerryPostgres

/// Ferry's own job families. The `ferry` executable runs all of them; an app picks the ones it
/// wants beside its own (``FerryCommand/main(families:)``). Adding a family means a folder
/// beside this one with its ``JobFamily`` and a line here.
public enum JobCatalog {
    public static var families: [any JobFamily] {
        [
            BuiltinFamily(), AccountsFamily(), StoriesFamily(), MiningFamily(), AnalyticsFamily(), EmailFamily(), ImportsFamily(),
            ClaudeFamily(), AnonymizeFamily(),
        ]
    }
}

/// The tables of Ferry's own families, as versioned migrations (`ferry migrate`).
///
/// Conventions: times are `timestamptz`, money and token amounts `numeric`, foreign keys are
/// declared, and every index says which job's query it serves.
public enum FerrySchema {
    public static var migrations: [PostgresMigration] {
        JobCatalog.families.flatMap(\.migrations).sorted { $0.version < $1.version }
    }

    public static var migrator: PostgresMigrator { PostgresMigrator(migrations: migrations) }
}
