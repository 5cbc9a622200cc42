public import FerryPostgres

/// The tables Ferry's jobs work on, as versioned migrations (`ferry migrate`).
///
/// Conventions: times are `timestamptz`, money and token amounts `numeric`, foreign keys are
/// declared, and every index says which job's query it serves.
public enum FerrySchema {
    public static let migrations: [PostgresMigration] = [
        users, StoriesSchema.migration, MiningSchema.migration, AnalyticsSchema.trades, AnalyticsSchema.social,
        AnalyticsSchema.rollups, EmailSchema.migration, ImportSchema.migration, ClaudeSchema.migration, AnonymizeSchema.migration,
        ImportSchema.profiles,
    ]

    public static var migrator: PostgresMigrator { PostgresMigrator(migrations: migrations) }

    static let users = PostgresMigration(version: 1, name: "users", sql: """
        CREATE TABLE users (
            id         bigserial PRIMARY KEY,
            handle     text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """)
}
