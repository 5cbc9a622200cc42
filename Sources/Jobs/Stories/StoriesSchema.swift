import FerryPostgres

/// Stories with their views and reactions.
enum StoriesSchema {
    static let migration = PostgresMigration(version: 2, name: "stories", sql: """
        CREATE TABLE stories (
            id         bigserial PRIMARY KEY,
            user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            body       text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        );
        -- stories.expire: the oldest expired stories first, a batch at a time.
        CREATE INDEX stories_expires_at_idx ON stories (expires_at);
        COMMENT ON INDEX stories_expires_at_idx IS 'stories.expire: WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2';

        CREATE TABLE story_views (
            story_id  bigint NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            viewer_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            viewed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (story_id, viewer_id)   -- also serves stories.expire: DELETE … WHERE story_id IN (…)
        );

        CREATE TABLE story_reactions (
            id         bigserial PRIMARY KEY,
            story_id   bigint NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            emoji      text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX story_reactions_story_id_idx ON story_reactions (story_id);
        COMMENT ON INDEX story_reactions_story_id_idx IS 'stories.expire: DELETE FROM story_reactions WHERE story_id IN (…)';
        """)
}
