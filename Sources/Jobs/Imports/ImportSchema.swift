import FerryPostgres

/// What `trades.import` keeps: each import with its checkpoint and counts, the rows it refused,
/// and per import the occurrence counts that give rows without a broker id their key.
enum ImportSchema {
    static let migration = PostgresMigration(version: 8, name: "imports", sql: """
        ALTER TABLE trades
            ADD COLUMN trade_key text,
            ADD COLUMN fees      numeric(30, 8),
            ADD COLUMN currency  text,
            ADD COLUMN import_id bigint;
        -- trades.import: a trade is imported once per user (INSERT … ON CONFLICT DO NOTHING).
        CREATE UNIQUE INDEX trades_user_key_idx ON trades (user_id, trade_key) WHERE trade_key IS NOT NULL;
        COMMENT ON INDEX trades_user_key_idx IS 'trades.import: ON CONFLICT (user_id, trade_key) WHERE trade_key IS NOT NULL';

        CREATE TABLE imports (
            id          bigserial PRIMARY KEY,
            job_id      text NOT NULL UNIQUE,       -- a retry of the job resumes this import
            user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            source      text NOT NULL,
            profile     text,
            status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            accepted    bigint NOT NULL DEFAULT 0,
            rejected    bigint NOT NULL DEFAULT 0,
            duplicates  bigint NOT NULL DEFAULT 0,
            bytes_total bigint,
            bytes_done  bigint NOT NULL DEFAULT 0,  -- the checkpoint: resume reading here
            lines_done  bigint NOT NULL DEFAULT 0,
            started_at  timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            error       text
        );

        CREATE TABLE import_errors (
            import_id   bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
            line        bigint NOT NULL,
            column_name text,
            raw_value   text,
            reason      text NOT NULL
        );
        CREATE INDEX import_errors_import_line_idx ON import_errors (import_id, line);
        COMMENT ON INDEX import_errors_import_line_idx IS 'an import''s refused rows in file order';

        CREATE TABLE import_row_counts (
            import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
            row_hash  text NOT NULL,
            seen      int NOT NULL,
            PRIMARY KEY (import_id, row_hash)
        );
        """)

    /// Real exports: amounts as exact as the file writes them (crypto fees of 11 and 16 decimals;
    /// `numeric` without a fixed scale keeps them), a currency for the fees apart from the trade's,
    /// and the rows an import skipped as no trades. Dropping the scale rewrites no row.
    static let profiles = PostgresMigration(version: 11, name: "import_profiles", sql: """
        ALTER TABLE trades
            ALTER COLUMN quantity TYPE numeric,
            ALTER COLUMN entry_price TYPE numeric,
            ALTER COLUMN exit_price TYPE numeric,
            ALTER COLUMN pnl TYPE numeric,
            ALTER COLUMN fees TYPE numeric,
            ADD COLUMN fees_currency text;
        ALTER TABLE imports ADD COLUMN skipped bigint NOT NULL DEFAULT 0;
        """)
}
