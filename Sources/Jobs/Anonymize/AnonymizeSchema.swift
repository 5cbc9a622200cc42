import FerryPostgres

/// What `anonymize.batch` keeps: one row per run (its resolved plan and configuration, frozen
/// when the run starts, and its report) and one per chunk (its range, checkpoint and counts,
/// written in the transaction that writes the chunk's rows — so a chunk that runs again resumes
/// where it stopped and counts nothing twice).
enum AnonymizeSchema {
    static let migration = PostgresMigration(version: 10, name: "anonymize", sql: """
        CREATE TABLE anonymize_runs (
            id           bigserial PRIMARY KEY,
            job_id       text NOT NULL UNIQUE,          -- the anonymize.batch job: one run however often it runs
            batch_id     text,                          -- the core batch of its chunk jobs
            plan         jsonb NOT NULL,                -- source and target, resolved
            config       jsonb NOT NULL,                -- the anonymizer configuration (Presidio's shape)
            status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
            chunks_total integer NOT NULL,
            report       jsonb,
            created_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz
        );
        CREATE INDEX anonymize_runs_created_idx ON anonymize_runs (created_at);  -- newest first in the admin list

        CREATE TABLE anonymize_chunks (
            run_id      bigint NOT NULL REFERENCES anonymize_runs (id) ON DELETE CASCADE,
            chunk       integer NOT NULL,
            lower_bound bigint NOT NULL,                -- first key, or first byte of the file
            upper_bound bigint NOT NULL,                -- past the last key, or past the last byte
            first_line  bigint NOT NULL DEFAULT 1,      -- files: the line the range starts on
            last_key    bigint,                         -- tables: the last key written (the checkpoint)
            rows        bigint NOT NULL DEFAULT 0,
            bytes       bigint NOT NULL DEFAULT 0,
            rejected    bigint NOT NULL DEFAULT 0,
            findings    jsonb NOT NULL DEFAULT '{}',    -- entity type → count
            errors      jsonb NOT NULL DEFAULT '[]',    -- the first rejected rows: line and reason
            done        boolean NOT NULL DEFAULT false,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (run_id, chunk)
        );
        """)
}
