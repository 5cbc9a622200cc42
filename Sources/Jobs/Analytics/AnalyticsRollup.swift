import Ferry
public import FerryPostgres
public import FerryWorker
public import Foundation

/// `analytics.rollup`: per user and UTC day, trade statistics (trades, wins, losses, win rate,
/// gross P&L, volume) and social activity (posts, comments, likes received).
///
/// Incremental: only the (user, day) pairs touched since the last run's watermark are
/// recomputed — from the base tables, in full — and upserted, so a re-run changes nothing. The
/// watermark row is locked for the run, so two runs at once take turns. Rows changed in the last
/// `lag_s` seconds (default 60) wait for the next run: a transaction still open at the watermark
/// could otherwise commit a row older than it.
public struct AnalyticsRollup: JobHandler {
    public static let type = "analytics.rollup"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "low", maxAttempts: 5, timeout: .seconds(1800))
    static let watermarkName = "analytics.daily_user_stats"

    public init() {}

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let lag = context.settings.parameters["lag_s"]?.int ?? 60
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let upserted = try pool.withConnection { connection in
            try Self.rollUp(until: Date().addingTimeInterval(-Double(lag)), on: connection)
        }
        context.logger.log(level: upserted > 0 ? .info : .debug, "rolled up", metadata: ["user_days": "\(upserted)"])
    }

    /// The (user, day) pairs touched in ($1, $2], recomputed from the base tables and upserted.
    static let recompute = """
        WITH touched (user_id, day) AS (
            SELECT user_id, (closed_at AT TIME ZONE 'UTC')::date FROM trades
            WHERE updated_at > $1 AND updated_at <= $2 AND closed_at IS NOT NULL
            UNION
            SELECT user_id, (created_at AT TIME ZONE 'UTC')::date FROM posts WHERE created_at > $1 AND created_at <= $2
            UNION
            SELECT user_id, (created_at AT TIME ZONE 'UTC')::date FROM comments WHERE created_at > $1 AND created_at <= $2
            UNION
            SELECT p.user_id, (l.created_at AT TIME ZONE 'UTC')::date
            FROM likes l JOIN posts p ON p.id = l.post_id
            WHERE l.created_at > $1 AND l.created_at <= $2
        ), stats AS (
            SELECT t.user_id, t.day, tr.trades, tr.wins, tr.losses, tr.gross_pnl, tr.volume,
                   (SELECT count(*) FROM posts p WHERE p.user_id = t.user_id
                      AND p.created_at >= t.day::timestamp AT TIME ZONE 'UTC' AND p.created_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC') AS posts,
                   (SELECT count(*) FROM comments c WHERE c.user_id = t.user_id
                      AND c.created_at >= t.day::timestamp AT TIME ZONE 'UTC' AND c.created_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC') AS comments,
                   (SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id WHERE p.user_id = t.user_id
                      AND l.created_at >= t.day::timestamp AT TIME ZONE 'UTC' AND l.created_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC') AS likes_received
            FROM touched t
            CROSS JOIN LATERAL (
                SELECT count(*) AS trades,
                       count(*) FILTER (WHERE pnl > 0) AS wins,
                       count(*) FILTER (WHERE pnl < 0) AS losses,
                       coalesce(sum(pnl), 0) AS gross_pnl,
                       coalesce(sum(quantity * entry_price), 0) AS volume
                FROM trades
                WHERE user_id = t.user_id AND closed_at IS NOT NULL
                  AND closed_at >= t.day::timestamp AT TIME ZONE 'UTC' AND closed_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC'
            ) tr
        )
        INSERT INTO daily_user_stats AS d (user_id, day, trades, wins, losses, win_rate, gross_pnl, volume, posts, comments, likes_received)
        SELECT user_id, day, trades, wins, losses,
               round(wins::numeric / nullif(wins + losses, 0), 4), gross_pnl, volume, posts, comments, likes_received
        FROM stats
        ON CONFLICT (user_id, day) DO UPDATE SET
            trades = EXCLUDED.trades, wins = EXCLUDED.wins, losses = EXCLUDED.losses, win_rate = EXCLUDED.win_rate,
            gross_pnl = EXCLUDED.gross_pnl, volume = EXCLUDED.volume, posts = EXCLUDED.posts,
            comments = EXCLUDED.comments, likes_received = EXCLUDED.likes_received, updated_at = now()
        WHERE (d.trades, d.wins, d.losses, d.win_rate, d.gross_pnl, d.volume, d.posts, d.comments, d.likes_received)
              IS DISTINCT FROM
              (EXCLUDED.trades, EXCLUDED.wins, EXCLUDED.losses, EXCLUDED.win_rate, EXCLUDED.gross_pnl, EXCLUDED.volume,
               EXCLUDED.posts, EXCLUDED.comments, EXCLUDED.likes_received)
        """

    /// Rolls up everything changed after the watermark and up to `until`, in one transaction;
    /// returns how many (user, day) rows changed.
    public static func rollUp(until: Date, on connection: PostgresConnection) throws -> Int {
        try connection.transaction { tx in
            try tx.query("INSERT INTO rollup_watermarks (name, watermark) VALUES ($1, '-infinity') ON CONFLICT (name) DO NOTHING", [watermarkName])
            let row = try tx.query("SELECT watermark::text AS watermark FROM rollup_watermarks WHERE name = $1 FOR UPDATE", [watermarkName]).first
            let watermark = try row?.decode("watermark", as: String.self) ?? "-infinity"
            guard watermark == "-infinity" || (PostgresTimestampText.parse(watermark).map { $0 < until } ?? true) else { return 0 }
            let changed = try tx.query(recompute, [watermark, until]).affectedRows
            try tx.query("UPDATE rollup_watermarks SET watermark = $2 WHERE name = $1", [watermarkName, until])
            return changed
        }
    }
}

/// Reads the text form of a timestamptz (`2026-11-24 10:00:00+00`).
enum PostgresTimestampText {
    static func parse(_ text: String) -> Date? {
        try? Date(postgresText: text, type: PostgresType.timestamptz)
    }
}
