import FerryJobs
import FerryPostgres
import FerryTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct SchemaTests {
    @Test func migrateTwiceIsANoOpAndAFailedMigrationRollsBackWhole() throws {
        let fixture = try DatabaseFixture()
        #expect(try FerrySchema.migrator.migrate(fixture.db).isEmpty)
        #expect(try FerrySchema.migrator.appliedVersions(fixture.db) == Array(1...11))

        let broken = PostgresMigrator(migrations: FerrySchema.migrations + [
            PostgresMigration(version: 100, name: "half-done", sql: "CREATE TABLE half_done (id int); SELECT no_such_column FROM users;"),
        ])
        do {
            try broken.migrate(fixture.db)
            Issue.record("a broken migration was applied")
        } catch {
            #expect("\(error)".contains("migration 100 (half-done) failed and was rolled back"))
            #expect("\(error)".contains("42703"))
        }
        #expect(try fixture.int("SELECT count(*)::int FROM pg_tables WHERE tablename = 'half_done' AND schemaname = $1", [fixture.schema]) == 0)
        #expect(try FerrySchema.migrator.appliedVersions(fixture.db) == Array(1...11))
    }

    @Test func timesAreTimestamptzAndAmountsNumeric() throws {
        let fixture = try DatabaseFixture()
        let wrong = try fixture.int("""
            SELECT count(*)::int FROM information_schema.columns
            WHERE table_schema = $1
              AND ((column_name LIKE '%\\_at' AND data_type <> 'timestamp with time zone')
                OR (column_name IN ('amount', 'balance', 'pnl', 'quantity', 'entry_price', 'exit_price', 'gross_pnl', 'volume', 'mining_power')
                    AND data_type <> 'numeric')
                OR data_type IN ('real', 'double precision', 'money'))
            """, [fixture.schema])
        #expect(wrong == 0)
    }
}

@Suite struct StoryExpiryTests {
    /// 10,000 users; 100,000 stories of which 60 % have expired; two views per story; a reaction on every third.
    func seed(_ fixture: DatabaseFixture) throws {
        try fixture.db.query("INSERT INTO users (handle) SELECT 'user' || g FROM generate_series(1, 10000) g")
        try fixture.db.query("""
            INSERT INTO stories (user_id, body, created_at, expires_at)
            SELECT 1 + g % 10000, 'story ' || g, now() - interval '1 day', now() + (g % 10 - 6) * interval '1 hour' + interval '1 minute'
            FROM generate_series(1, 100000) g
            """)
        try fixture.db.query("INSERT INTO story_views (story_id, viewer_id) SELECT s.id, 1 + (s.id * 7 + k) % 10000 FROM stories s, generate_series(1, 2) k")
        try fixture.db.query("INSERT INTO story_reactions (story_id, user_id, emoji) SELECT id, 1 + id % 10000, 'fire' FROM stories WHERE id % 3 = 0")
    }

    @Test func removesExpiredStoriesWithTheirViewsAndReactions() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        let now = Date()
        let expired = try fixture.int("SELECT count(*)::int FROM stories WHERE expires_at <= $1", [now])
        let keptViews = try fixture.int("SELECT count(*)::int FROM story_views v JOIN stories s ON s.id = v.story_id WHERE s.expires_at > $1", [now])
        let keptReactions = try fixture.int("SELECT count(*)::int FROM story_reactions r JOIN stories s ON s.id = r.story_id WHERE s.expires_at > $1", [now])
        #expect(expired == 60_000)

        var batches = 0
        let removed = try StoryExpiry.expire(before: now, batchSize: 1000, on: fixture.db) { _ in batches += 1 }
        #expect(removed.stories == expired)
        #expect(removed.views == expired * 2)
        #expect(batches == 61)
        #expect(try fixture.int("SELECT count(*)::int FROM stories") == 40_000)
        #expect(try fixture.int("SELECT count(*)::int FROM stories WHERE expires_at <= $1", [now]) == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM story_views") == keptViews)
        #expect(try fixture.int("SELECT count(*)::int FROM story_reactions") == keptReactions)
        #expect(try StoryExpiry.expire(before: now, batchSize: 1000, on: fixture.db) == .init())
    }

    @Test func twoRunsAtOnceSplitTheWorkAndRemoveEachStoryOnce() throws {
        let fixture = try DatabaseFixture()
        try seed(fixture)
        let now = Date()
        let first = try fixture.connection()
        let second = try fixture.connection()
        let removed = Mutex<Int>(0)
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        for connection in [first, second] {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let run = try StoryExpiry.expire(before: now, batchSize: 500, on: connection)
                    removed.withLock { $0 += run.stories }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(removed.withLock { $0 } == 60_000)
        #expect(try fixture.int("SELECT count(*)::int FROM stories WHERE expires_at <= $1", [now]) == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM story_views v LEFT JOIN stories s ON s.id = v.story_id WHERE s.id IS NULL") == 0)
    }
}
