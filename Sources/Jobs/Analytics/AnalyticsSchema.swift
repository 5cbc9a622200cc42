import FerryPostgres

/// Trades, social activity, and the per-user daily rollups built from them.
enum AnalyticsSchema {
    static let trades = PostgresMigration(version: 4, name: "trades", sql: """
        CREATE TABLE trades (
            id          bigserial PRIMARY KEY,
            user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            symbol      text NOT NULL,
            side        text NOT NULL CHECK (side IN ('buy', 'sell')),
            quantity    numeric(30, 8) NOT NULL CHECK (quantity > 0),
            entry_price numeric(30, 8) NOT NULL CHECK (entry_price >= 0),
            exit_price  numeric(30, 8),
            pnl         numeric(30, 8),
            opened_at   timestamptz NOT NULL,
            closed_at   timestamptz,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX trades_updated_at_idx ON trades (updated_at);
        COMMENT ON INDEX trades_updated_at_idx IS 'analytics.rollup: trades touched since the watermark';
        CREATE INDEX trades_user_closed_idx ON trades (user_id, closed_at);
        COMMENT ON INDEX trades_user_closed_idx IS 'analytics.rollup: one user''s trades closed on one day';
        """)

    static let social = PostgresMigration(version: 5, name: "social", sql: """
        CREATE TABLE posts (
            id         bigserial PRIMARY KEY,
            user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            body       text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX posts_created_at_idx ON posts (created_at);
        COMMENT ON INDEX posts_created_at_idx IS 'analytics.rollup: posts since the watermark';
        CREATE INDEX posts_user_created_idx ON posts (user_id, created_at);
        COMMENT ON INDEX posts_user_created_idx IS 'analytics.rollup: one user''s posts on one day';

        CREATE TABLE comments (
            id         bigserial PRIMARY KEY,
            post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
            user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            body       text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX comments_created_at_idx ON comments (created_at);
        COMMENT ON INDEX comments_created_at_idx IS 'analytics.rollup: comments since the watermark';
        CREATE INDEX comments_user_created_idx ON comments (user_id, created_at);
        COMMENT ON INDEX comments_user_created_idx IS 'analytics.rollup: one user''s comments on one day';

        CREATE TABLE likes (
            post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
            user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (post_id, user_id)   -- also serves: likes of one post
        );
        CREATE INDEX likes_created_at_idx ON likes (created_at);
        COMMENT ON INDEX likes_created_at_idx IS 'analytics.rollup: likes since the watermark, and likes received on one day';
        """)

    static let rollups = PostgresMigration(version: 6, name: "rollups", sql: """
        CREATE TABLE daily_user_stats (
            user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            day            date NOT NULL,
            trades         integer NOT NULL,
            wins           integer NOT NULL,
            losses         integer NOT NULL,
            win_rate       numeric(7, 4),            -- NULL when no trade won or lost
            gross_pnl      numeric(30, 8) NOT NULL,
            volume         numeric(30, 8) NOT NULL,
            posts          integer NOT NULL,
            comments       integer NOT NULL,
            likes_received integer NOT NULL,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, day)
        );

        CREATE TABLE rollup_watermarks (
            name      text PRIMARY KEY,
            watermark timestamptz NOT NULL
        );
        """)
}
