import FerryPostgres

/// What `email.send` and `notifications.digest` keep: deliveries (sent once), suppressions
/// (addresses that bounced for good), and the users' address, language, time zone and digest
/// state.
enum EmailSchema {
    static let migration = PostgresMigration(version: 7, name: "email", sql: """
        ALTER TABLE users
            ADD COLUMN email          text,
            ADD COLUMN locale         text NOT NULL DEFAULT 'en',
            ADD COLUMN time_zone      text NOT NULL DEFAULT 'UTC',
            ADD COLUMN digest_opt_out boolean NOT NULL DEFAULT false,
            ADD COLUMN last_digest_at timestamptz,
            ADD COLUMN last_digest_on date;
        -- notifications.digest: users not yet sent today's digest, in id order.
        CREATE INDEX users_digest_idx ON users (id) WHERE email IS NOT NULL AND NOT digest_opt_out;
        COMMENT ON INDEX users_digest_idx IS 'notifications.digest: WHERE email IS NOT NULL AND NOT digest_opt_out AND id > $cursor ORDER BY id';

        -- notifications.digest: activity on one user's posts and stories since the last digest.
        CREATE INDEX comments_post_created_idx ON comments (post_id, created_at);
        COMMENT ON INDEX comments_post_created_idx IS 'notifications.digest: comments on a user''s posts since a time';
        CREATE INDEX stories_user_idx ON stories (user_id);
        COMMENT ON INDEX stories_user_idx IS 'notifications.digest: a user''s stories, for reactions to them';
        CREATE INDEX story_reactions_story_created_idx ON story_reactions (story_id, created_at);
        COMMENT ON INDEX story_reactions_story_created_idx IS 'notifications.digest: reactions to a user''s stories since a time';

        CREATE TABLE email_deliveries (
            key          text PRIMARY KEY,          -- the idempotency key, or job:<id>
            job_id       text NOT NULL,
            recipient    text NOT NULL,
            template     text,
            status       text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
            message_id   text NOT NULL,
            server_reply text,
            attempts     int NOT NULL DEFAULT 1,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            sent_at      timestamptz
        );

        CREATE TABLE email_suppressions (
            address    text PRIMARY KEY,            -- lower-cased
            reason     text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """)
}
