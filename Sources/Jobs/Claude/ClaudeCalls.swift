public import FerryPostgres
public import Foundation
public import FerryQueue

/// The `claude_calls` table: one row per call, written once per `call_key` however often the job
/// runs, with its tokens and its cost (computed as `numeric` from the price table, never floating
/// point). `ferry claude usage` and `GET /api/v1/claude/usage` sum it.
public enum ClaudeCalls {
    /// Token counts of a response (`usage`).
    struct Tokens: Sendable, Equatable {
        var input: Int64 = 0
        var output: Int64 = 0
        var cacheCreation: Int64 = 0
        var cacheRead: Int64 = 0

        init(input: Int64 = 0, output: Int64 = 0, cacheCreation: Int64 = 0, cacheRead: Int64 = 0) {
            self.input = input
            self.output = output
            self.cacheCreation = cacheCreation
            self.cacheRead = cacheRead
        }

        /// From a response's `usage`; counts outside 0…10⁹ are refused (nil).
        init?(_ usage: JSONValue?) {
            guard let usage else { return nil }
            let values = ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].map { usage[$0]?.int ?? 0 }
            guard usage["input_tokens"]?.int != nil, usage["output_tokens"]?.int != nil, values.allSatisfy({ (0...1_000_000_000).contains($0) }) else { return nil }
            self.init(input: Int64(values[0]), output: Int64(values[1]), cacheCreation: Int64(values[2]), cacheRead: Int64(values[3]))
        }
    }

    /// Who made a call, for its row.
    struct Call: Sendable {
        var key: String
        var jobID: String
        var batchID: String?
        var ref: String?
        var model: String
    }

    /// The stored answer of `key` when that call already succeeded (a job run again after a crash
    /// reuses it instead of paying twice).
    static func answer(_ key: String, on db: PostgresConnection) throws -> JSONValue? {
        guard let row = try db.query("SELECT response::text AS response FROM claude_calls WHERE call_key = $1 AND status = 'succeeded'", [key]).first,
              let text = try row.decode("response", as: String?.self) else { return nil }
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static let recordSuccess = """
        INSERT INTO claude_calls (call_key, job_id, batch_id, ref, model, status, request_id, stop_reason, input_tokens, output_tokens,
                                  cache_creation_input_tokens, cache_read_input_tokens, cost_usd, latency_ms, response)
        VALUES ($1, $2, $3, $4, $5, 'succeeded', $6, $7, $8::bigint, $9::bigint, $10::bigint, $11::bigint,
                round(($8::bigint * $12::numeric + $9::bigint * $13::numeric + $10::bigint * $14::numeric + $11::bigint * $15::numeric)
                      * $16::numeric / 1000000, 10),
                $17::integer, $18::jsonb)
        ON CONFLICT (call_key) DO UPDATE SET
            status = 'succeeded', request_id = EXCLUDED.request_id, stop_reason = EXCLUDED.stop_reason,
            input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
            cache_creation_input_tokens = EXCLUDED.cache_creation_input_tokens, cache_read_input_tokens = EXCLUDED.cache_read_input_tokens,
            cost_usd = EXCLUDED.cost_usd, latency_ms = EXCLUDED.latency_ms, response = EXCLUDED.response, error = NULL,
            attempts = claude_calls.attempts + 1, updated_at = now()
        WHERE claude_calls.status <> 'succeeded'
        RETURNING cost_usd::text AS cost
        """

    /// Records a successful call; returns its cost in USD (text, exact), or nil when it was recorded before.
    static func succeeded(
        _ call: Call, requestID: String?, stopReason: String?, tokens: Tokens, price: ClaudeSettings.Price, priceShare: String,
        latencyMS: Int, response: JSONValue, on db: PostgresConnection
    ) throws -> String? {
        let json = String(decoding: try JSONEncoder().encode(response), as: UTF8.self)
        return try db.query(recordSuccess, [
            call.key, call.jobID, call.batchID, call.ref, call.model, requestID, stopReason, tokens.input, tokens.output, tokens.cacheCreation,
            tokens.cacheRead, price.input, price.output, price.cacheWrite, price.cacheRead, priceShare, latencyMS, json,
        ]).first?.decode("cost", as: String.self)
    }

    static let recordFailure = """
        INSERT INTO claude_calls (call_key, job_id, batch_id, ref, model, status, request_id, error, latency_ms)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (call_key) DO UPDATE SET
            status = EXCLUDED.status, request_id = EXCLUDED.request_id, error = EXCLUDED.error, latency_ms = EXCLUDED.latency_ms,
            attempts = claude_calls.attempts + 1, updated_at = now()
        WHERE claude_calls.status <> 'succeeded'
        """

    /// Records a call that produced no answer (`failed`, or `rate_limited` for a 429).
    static func failed(_ call: Call, status: String, requestID: String?, error: String, latencyMS: Int?, on db: PostgresConnection) throws {
        try db.query(recordFailure, [call.key, call.jobID, call.batchID, call.ref, call.model, status, requestID, String(error.prefix(1000)), latencyMS])
    }

    /// How ``usage(since:by:on:)`` groups.
    public enum Grouping: String, Sendable, CaseIterable {
        case model, day
    }

    /// Tokens and cost of the calls of one model or day.
    public struct Usage: Sendable, Equatable, Encodable {
        public var key: String
        public var calls: Int64
        public var failed: Int64
        public var inputTokens: Int64
        public var outputTokens: Int64
        public var cacheCreationInputTokens: Int64
        public var cacheReadInputTokens: Int64
        /// USD, exact decimal text.
        public var costUSD: String

        enum CodingKeys: String, CodingKey {
            case key, calls, failed
            case inputTokens = "input_tokens", outputTokens = "output_tokens"
            case cacheCreationInputTokens = "cache_creation_input_tokens", cacheReadInputTokens = "cache_read_input_tokens"
            case costUSD = "cost_usd"
        }
    }

    /// Calls since `since`, summed per model or per day (UTC).
    public static func usage(since: Date, by grouping: Grouping, on db: PostgresConnection) throws -> [Usage] {
        let key = grouping == .model ? "model" : "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return try db.query("""
            SELECT \(key) AS key, count(*) AS calls, count(*) FILTER (WHERE status <> 'succeeded') AS failed,
                   sum(input_tokens)::bigint AS input, sum(output_tokens)::bigint AS output,
                   sum(cache_creation_input_tokens)::bigint AS cache_creation, sum(cache_read_input_tokens)::bigint AS cache_read,
                   sum(cost_usd)::text AS cost
            FROM claude_calls WHERE created_at >= $1 GROUP BY 1 ORDER BY 1
            """, [since]).rows.map { row in
            Usage(
                key: try row.decode("key"), calls: try row.decode("calls"), failed: try row.decode("failed"), inputTokens: try row.decode("input"),
                outputTokens: try row.decode("output"), cacheCreationInputTokens: try row.decode("cache_creation"),
                cacheReadInputTokens: try row.decode("cache_read"), costUSD: try row.decode("cost")
            )
        }
    }
}

extension ClaudeCalls {
    /// One recorded call, as `ferry claude calls` and `GET /api/v1/claude/calls` show it.
    public struct Record: Sendable, Equatable, Encodable {
        public var id: Int64
        public var jobID: String
        public var batchID: String?
        public var ref: String?
        public var model: String
        public var status: String
        public var inputTokens: Int64
        public var outputTokens: Int64
        /// USD, exact decimal text.
        public var costUSD: String
        public var attempts: Int
        public var error: String?
        /// The answer (content, stop reason, usage) of a successful call.
        public var answer: JSONValue?
        public var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, ref, model, status, attempts, error, answer
            case jobID = "job_id", batchID = "batch_id", inputTokens = "input_tokens", outputTokens = "output_tokens", costUSD = "cost_usd"
            case createdAt = "created_at"
        }
    }

    /// The newest calls, optionally only those of a `ref`, a batch or a job (at most `limit`).
    public static func records(
        ref: String? = nil, batchID: String? = nil, jobID: String? = nil, before: Int64? = nil, limit: Int = 50, on db: PostgresConnection
    ) throws -> [Record] {
        try db.query("""
            SELECT id, job_id, batch_id, ref, model, status, input_tokens, output_tokens, cost_usd::text AS cost, attempts, error,
                   response::text AS answer, created_at
            FROM claude_calls
            WHERE ($1::text IS NULL OR ref = $1) AND ($2::text IS NULL OR batch_id = $2) AND ($3::text IS NULL OR job_id = $3)
              AND ($5::bigint IS NULL OR id < $5)
            ORDER BY id DESC LIMIT $4
            """, [ref, batchID, jobID, limit, before]).rows.map { row in
            let answer = try row.decode("answer", as: String?.self).flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            return Record(
                id: try row.decode("id"), jobID: try row.decode("job_id"), batchID: try row.decode("batch_id"), ref: try row.decode("ref"),
                model: try row.decode("model"), status: try row.decode("status"), inputTokens: try row.decode("input_tokens"),
                outputTokens: try row.decode("output_tokens"), costUSD: try row.decode("cost"), attempts: try row.decode("attempts"),
                error: try row.decode("error"), answer: answer, createdAt: try row.decode("created_at")
            )
        }
    }
}
