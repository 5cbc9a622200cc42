import FerryPostgres

/// Mining progress, token balances and the token ledger.
enum MiningSchema {
    static let migration = PostgresMigration(version: 3, name: "mining", sql: """
        CREATE TABLE mining_progress (
            user_id           bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            mining_power      numeric(20, 8) NOT NULL DEFAULT 1 CHECK (mining_power >= 0),
            last_heartbeat_at timestamptz,
            last_credited_at  timestamptz,
            streak_days       integer NOT NULL DEFAULT 0,
            last_active_day   date
        );
        -- mining.rewards: active miners are those with a recent heartbeat.
        CREATE INDEX mining_progress_heartbeat_idx ON mining_progress (last_heartbeat_at);
        COMMENT ON INDEX mining_progress_heartbeat_idx IS 'mining.rewards: WHERE last_heartbeat_at >= $1';

        CREATE TABLE token_balances (
            user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            balance    numeric(30, 8) NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE token_ledger (
            id              bigserial PRIMARY KEY,
            user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            amount          numeric(30, 8) NOT NULL,
            reason          text NOT NULL,
            period_start    timestamptz NOT NULL,
            period_end      timestamptz NOT NULL,
            -- One credit per user per period: mining.rewards inserts ON CONFLICT DO NOTHING.
            idempotency_key text NOT NULL UNIQUE,
            created_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX token_ledger_user_idx ON token_ledger (user_id, created_at);
        COMMENT ON INDEX token_ledger_user_idx IS 'a user''s ledger, newest first (statements, admin)';
        """)
}
