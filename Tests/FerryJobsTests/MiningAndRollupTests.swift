import FerryJobs
import FerryPostgres
import FerryTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct MiningRewardsTests {
    let period = Date(timeIntervalSince1970: 1_795_500_000)  // 2026-11-24T…Z
    var parameters: MiningRewards.Parameters {
        var parameters = MiningRewards.Parameters()
        parameters.batchSize = 500
        return parameters
    }

    /// 10,000 miners: 8,000 active (recent heartbeat), varied power, last credit and streaks.
    func seed(_ fixture: DatabaseFixture) throws {
        try fixture.db.query("INSERT INTO users (handle) SELECT 'miner' || g FROM generate_series(1, 10000) g")
        try fixture.db.query("""
            INSERT INTO mining_progress (user_id, mining_power, last_heartbeat_at, last_credited_at, streak_days, last_active_day)
            SELECT g, 1 + (g % 7) * 0.125,
                   $1::timestamptz - CASE WHEN g % 5 = 0 THEN interval '2 hours' ELSE (g % 600) * interval '1 second' END,
                   CASE WHEN g % 3 = 0 THEN NULL ELSE $1::timestamptz - (g % 5000) * interval '1 second' END,
                   g % 15,
                   CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN ($1::timestamptz AT TIME ZONE 'UTC')::date
                              WHEN 2 THEN ($1::timestamptz AT TIME ZONE 'UTC')::date - 1 ELSE ($1::timestamptz AT TIME ZONE 'UTC')::date - 3 END
            FROM generate_series(1, 10000) g
            """, [period])
    }

    /// The reward of every active miner, computed independently in SQL.
    static let groundTruth = """
        SELECT user_id, round(0.25 * mining_power * (1 + 0.1 * least(streak - 1, 10))
               * extract(epoch FROM ($1::timestamptz - greatest(coalesce(last_credited_at, $1::timestamptz - interval '600 seconds'),
                                                                 $1::timestamptz - interval '3600 seconds'))) / 3600, 8) AS amount
        FROM (SELECT *, CASE WHEN last_active_day = ($1::timestamptz AT TIME ZONE 'UTC')::date THEN greatest(streak_days, 1)
                             WHEN last_active_day = ($1::timestamptz AT TIME ZONE 'UTC')::date - 1 THEN streak_days + 1
                             ELSE 1 END AS streak
              FROM mining_progress) m
        WHERE last_heartbeat_at >= $1::timestamptz - interval '900 seconds'
          AND (last_credited_at IS NULL OR last_credited_at < $1::timestamptz)
        """

    func snapshotExpected(_ fixture: DatabaseFixture) throws {
        try fixture.db.query("CREATE TABLE expected AS " + Self.groundTruth, [period])
    }

    func mismatches(_ fixture: DatabaseFixture) throws -> Int {
        try fixture.int("""
            SELECT count(*)::int FROM (
                (SELECT user_id, amount FROM expected EXCEPT SELECT user_id, balance FROM token_balances)
                UNION ALL
                (SELECT user_id, balance FROM token_balances EXCEPT SELECT user_id, amount FROM expected)
            ) difference
            """)
    }

    @Test func creditsEachActiveMinerExactlyAndNeverTwice() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        try snapshotExpected(fixture)
        let active = try fixture.int("SELECT count(*)::int FROM expected")
        #expect(active == 8000)

        let credited = try MiningRewards.credit(periodEnd: period, parameters: parameters, on: fixture.db)
        #expect(credited.miners == active)
        let sample = try fixture.db.query("""
            SELECT e.user_id, e.amount::text AS expected, b.balance::text AS actual, m.last_credited_at::text AS credited
            FROM expected e LEFT JOIN token_balances b USING (user_id) JOIN mining_progress m USING (user_id)
            WHERE e.amount IS DISTINCT FROM b.balance OR m.last_credited_at <> $1 LIMIT 5
            """, [period]).rows.map { row in try ["user_id", "expected", "actual", "credited"].map { try row.decode($0, as: String?.self) ?? "nil" }.joined(separator: " ") }
        #expect(try mismatches(fixture) == 0, "\(sample)")
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger") == active)
        #expect(try fixture.int("SELECT count(*)::int FROM mining_progress JOIN expected USING (user_id) WHERE last_credited_at = $1", [period]) == active)

        // Again for the same period: nothing more is paid.
        let again = try MiningRewards.credit(periodEnd: period, parameters: parameters, on: fixture.db)
        #expect(again.miners == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger") == active)
        #expect(try mismatches(fixture) == 0)
    }

    @Test func twoRunsAtOnceNeverPayTwice() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        try snapshotExpected(fixture)
        let connections = [try fixture.connection(), try fixture.connection()]
        let errors = Mutex<[String]>([])
        let group = DispatchGroup()
        for connection in connections {
            group.enter()
            Thread.detachNewThread { [parameters, period] in
                defer { group.leave() }
                do { _ = try MiningRewards.credit(periodEnd: period, parameters: parameters, on: connection) } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
        }
        group.wait()
        #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger") == 8000)
        #expect(try fixture.int("SELECT count(*)::int FROM (SELECT user_id FROM token_ledger GROUP BY user_id, period_end HAVING count(*) > 1) d") == 0)
        #expect(try mismatches(fixture) == 0)
    }

    @Test func aFailureMidRunLeavesEveryBatchWholeOrUntouched() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        try snapshotExpected(fixture)
        // Miner 4321's balance cannot be written: its batch (users 4xxx…) fails and rolls back.
        try fixture.db.executeScript("""
            CREATE FUNCTION refuse_4321() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.user_id = 4321 THEN RAISE EXCEPTION 'balance of 4321 is frozen'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_4321 BEFORE INSERT OR UPDATE ON token_balances FOR EACH ROW EXECUTE FUNCTION refuse_4321();
            """)
        do {
            _ = try MiningRewards.credit(periodEnd: period, parameters: parameters, on: fixture.db)
            Issue.record("the run succeeded despite the frozen balance")
        } catch {
            #expect("\(error)".contains("balance of 4321 is frozen"))
        }
        // Consistent: every ledger row has its balance, every paid miner is marked paid, and the
        // failed batch left nothing behind.
        #expect(try fixture.int("""
            SELECT count(*)::int FROM (SELECT user_id, sum(amount) AS paid FROM token_ledger GROUP BY user_id) l
            FULL JOIN token_balances b USING (user_id) WHERE l.paid IS DISTINCT FROM b.balance
            """) == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger WHERE user_id = 4321") == 0)
        #expect(try fixture.int("""
            SELECT count(*)::int FROM mining_progress m JOIN expected USING (user_id)
            WHERE (m.last_credited_at = $1) <> EXISTS (SELECT 1 FROM token_ledger l WHERE l.user_id = m.user_id)
            """, [period]) == 0)
        let paidBefore = try fixture.int("SELECT count(*)::int FROM token_ledger")
        #expect(paidBefore > 0 && paidBefore < 8000)

        // Once the cause is gone, a retry pays exactly the rest.
        try fixture.db.executeScript("DROP TRIGGER refuse_4321 ON token_balances;")
        _ = try MiningRewards.credit(periodEnd: period, parameters: parameters, on: fixture.db)
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger") == 8000)
        #expect(try mismatches(fixture) == 0)
    }

    @Test func streaksGrowDayByDayAndResetAfterAMissedDay() throws {
        let fixture = try DatabaseFixture()
        try fixture.db.query("INSERT INTO users (handle) VALUES ('a')")
        try fixture.db.query("INSERT INTO mining_progress (user_id, last_heartbeat_at) VALUES (1, $1)", [period])
        var streaks: [Int] = []
        for day in [0, 1, 2, 4] {
            let when = period.addingTimeInterval(Double(day) * 86400)
            try fixture.db.query("UPDATE mining_progress SET last_heartbeat_at = $1", [when])
            _ = try MiningRewards.credit(periodEnd: when, parameters: parameters, on: fixture.db)
            streaks.append(try fixture.int("SELECT streak_days FROM mining_progress"))
        }
        #expect(streaks == [1, 2, 3, 1])
    }
}

@Suite struct AnalyticsRollupTests {
    /// 2,000 users, 200,000 trades over 30 days (some still open), posts, comments and likes.
    func seed(_ fixture: DatabaseFixture) throws {
        try fixture.db.query("INSERT INTO users (handle) SELECT 'trader' || g FROM generate_series(1, 2000) g")
        try fixture.db.query("""
            INSERT INTO trades (user_id, symbol, side, quantity, entry_price, exit_price, pnl, opened_at, closed_at)
            SELECT 1 + g % 2000, (ARRAY['AAPL', 'MSFT', 'BTC', 'ETH'])[1 + g % 4], CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END,
                   1 + g % 10, 100 + (g % 97) * 0.5, 100 + (g % 89) * 0.5, ((g % 21) - 10) * 1.25,
                   now() - (g % 30) * interval '1 day' - interval '2 hours',
                   CASE WHEN g % 13 = 0 THEN NULL ELSE now() - (g % 30) * interval '1 day' - (g % 7) * interval '1 hour' END
            FROM generate_series(1, 200000) g
            """)
        try fixture.db.query("INSERT INTO posts (user_id, body, created_at) SELECT 1 + g % 2000, 'post', now() - (g % 30) * interval '1 day' FROM generate_series(1, 20000) g")
        try fixture.db.query("INSERT INTO comments (post_id, user_id, body, created_at) SELECT 1 + g % 20000, 1 + (g * 7) % 2000, 'c', now() - (g % 30) * interval '1 day' FROM generate_series(1, 30000) g")
        try fixture.db.query("INSERT INTO likes (post_id, user_id, created_at) SELECT 1 + g % 20000, 1 + (g * 13) % 2000, now() - (g % 29) * interval '1 day' FROM generate_series(1, 40000) g ON CONFLICT DO NOTHING")
    }

    /// Rows of the rollup that differ from a full recomputation in plain SQL.
    func mismatches(_ fixture: DatabaseFixture) throws -> Int {
        try fixture.int("""
            WITH t AS (SELECT user_id, (closed_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS trades,
                              count(*) FILTER (WHERE pnl > 0)::int AS wins, count(*) FILTER (WHERE pnl < 0)::int AS losses,
                              sum(pnl) AS gross, sum(quantity * entry_price) AS volume
                       FROM trades WHERE closed_at IS NOT NULL GROUP BY 1, 2),
                 p AS (SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM posts GROUP BY 1, 2),
                 c AS (SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM comments GROUP BY 1, 2),
                 l AS (SELECT p.user_id, (l.created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n
                       FROM likes l JOIN posts p ON p.id = l.post_id GROUP BY 1, 2),
                 k AS (SELECT user_id, day FROM t UNION SELECT user_id, day FROM p UNION SELECT user_id, day FROM c UNION SELECT user_id, day FROM l),
                 truth AS (
                    SELECT k.user_id, k.day, coalesce(t.trades, 0) AS trades, coalesce(t.wins, 0) AS wins, coalesce(t.losses, 0) AS losses,
                           round(t.wins::numeric / nullif(t.wins + t.losses, 0), 4) AS win_rate, coalesce(t.gross, 0) AS gross_pnl,
                           coalesce(t.volume, 0) AS volume, coalesce(p.n, 0) AS posts, coalesce(c.n, 0) AS comments, coalesce(l.n, 0) AS likes_received
                    FROM k LEFT JOIN t USING (user_id, day) LEFT JOIN p USING (user_id, day) LEFT JOIN c USING (user_id, day) LEFT JOIN l USING (user_id, day)),
                 actual AS (SELECT user_id, day, trades, wins, losses, win_rate, gross_pnl, volume, posts, comments, likes_received FROM daily_user_stats)
            SELECT count(*)::int FROM ((SELECT * FROM truth EXCEPT SELECT * FROM actual) UNION ALL (SELECT * FROM actual EXCEPT SELECT * FROM truth)) d
            """)
    }

    @Test func rollsUpIncrementallyAndMatchesAFullRecomputation() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        usleep(20_000)
        let first = try AnalyticsRollup.rollUp(until: Date(), on: fixture.db)
        #expect(first > 10_000)
        #expect(try mismatches(fixture) == 0)

        // A re-run changes nothing.
        let snapshot = try fixture.int("SELECT hashtext(string_agg(d::text, '|' ORDER BY user_id, day))::int FROM daily_user_stats d")
        #expect(try AnalyticsRollup.rollUp(until: Date(), on: fixture.db) == 0)
        #expect(try fixture.int("SELECT hashtext(string_agg(d::text, '|' ORDER BY user_id, day))::int FROM daily_user_stats d") == snapshot)

        // Changes since the watermark: only the touched user-days are recomputed, and correctly.
        try fixture.db.query("UPDATE trades SET pnl = -pnl, updated_at = now() WHERE id % 500 = 0")
        try fixture.db.query("UPDATE trades SET closed_at = now() - interval '3 days', exit_price = 101, pnl = 5, updated_at = now() WHERE closed_at IS NULL AND id % 1300 = 0")
        try fixture.db.query("INSERT INTO likes (post_id, user_id) SELECT id, 1 + (id * 17) % 2000 FROM posts WHERE id % 100 = 0 ON CONFLICT DO NOTHING")
        usleep(20_000)
        let changed = try AnalyticsRollup.rollUp(until: Date(), on: fixture.db)
        #expect(changed > 0 && changed < first)
        #expect(try mismatches(fixture) == 0)
    }
}
