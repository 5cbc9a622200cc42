import FerryPostgres

/// What the Claude jobs keep: one row per API call (a `claude.message` job, or one request of a
/// `claude.batch`), with its tokens, cost and answer, and the submitted message batches.
enum ClaudeSchema {
    static let migration = PostgresMigration(version: 9, name: "claude", sql: """
        CREATE TABLE claude_calls (
            id                          bigserial PRIMARY KEY,
            call_key                    text NOT NULL UNIQUE,   -- job:<job id> or batch:<batch id>:<ref>: recorded once
            job_id                      text NOT NULL,
            batch_id                    text,
            ref                         text,
            model                       text NOT NULL,
            status                      text NOT NULL CHECK (status IN ('succeeded', 'failed', 'rate_limited')),
            request_id                  text,
            stop_reason                 text,
            input_tokens                bigint NOT NULL DEFAULT 0,
            output_tokens               bigint NOT NULL DEFAULT 0,
            cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
            cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
            cost_usd                    numeric(20, 10) NOT NULL DEFAULT 0,
            latency_ms                  integer,
            attempts                    integer NOT NULL DEFAULT 1,
            error                       text,
            response                    jsonb,                  -- content, stop reason and usage of a successful call
            created_at                  timestamptz NOT NULL DEFAULT now(),
            updated_at                  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX claude_calls_created_idx ON claude_calls (created_at);  -- ferry claude usage --since
        CREATE INDEX claude_calls_ref_idx ON claude_calls (ref) WHERE ref IS NOT NULL;
        CREATE INDEX claude_calls_batch_idx ON claude_calls (batch_id) WHERE batch_id IS NOT NULL;

        CREATE TABLE claude_batches (
            job_id      text PRIMARY KEY,                       -- the claude.batch job that submitted it
            batch_id    text NOT NULL UNIQUE,
            requests    integer NOT NULL,
            status      text NOT NULL,                          -- in_progress, canceling, ended
            recorded    integer NOT NULL DEFAULT 0,             -- results recorded into claude_calls
            created_at  timestamptz NOT NULL DEFAULT now(),
            ended_at    timestamptz
        );
        """)
}
