import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The PostgreSQL jobs end to end: `ferry migrate`, enqueue, a real worker.
@Suite struct JobsThroughTheWorkerTests {
    @Test func migrateEnqueueAndRunThePostgresJobs() throws {
        let fixture = try DatabaseFixture()
        let namespace = "jtest-\(UUID().uuidString.prefix(8))"
        let databaseURL = TestEnvironment.postgresURL + "?search_path=\(fixture.schema)"
        let environment = ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "DATABASE_URL": databaseURL]

        let migrate = try ChildProcess([TestEnvironment.ferryBinary, "migrate"], environment: environment)
        #expect(migrate.waitForExit(timeout: 30) == 0)
        #expect(migrate.output.contains("schema up to date (11 migrations)"), "\(migrate.output)")

        try fixture.db.query("INSERT INTO users (handle) SELECT 'u' || g FROM generate_series(1, 100) g")
        try fixture.db.query("INSERT INTO stories (user_id, body, expires_at) SELECT g, 'old', now() - interval '1 hour' FROM generate_series(1, 50) g")
        try fixture.db.query("INSERT INTO mining_progress (user_id, last_heartbeat_at) SELECT g, now() FROM generate_series(1, 100) g")

        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: QueueKeyspace(namespace: namespace))
        try dispatcher.enqueue(.init(type: "stories.expire", options: .init(queue: "maintenance")))
        try dispatcher.enqueue(.init(type: "mining.rewards", options: .init(queue: "maintenance")))
        try dispatcher.enqueue(.init(type: "analytics.rollup", options: .init(queue: "low")))
        let worker = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--queues", "maintenance,low"], environment: environment)
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        #expect(try eventually(timeout: 20) { try QueueAdmin(keys: QueueKeyspace(namespace: namespace)).queues.stats(on: redis).processed == 3 }, "\(worker.output.suffix(2000))")
        #expect(try fixture.int("SELECT count(*)::int FROM stories") == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM token_ledger") == 100)
        #expect(try fixture.int("SELECT count(*)::int FROM rollup_watermarks") == 1)

        // A trade import for a user that does not exist: the foreign key says so, and retrying
        // cannot mend it — dead after its first attempt, with PostgreSQL's reason.
        let root = NSTemporaryDirectory() + "ferry-fk-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "symbol,side,quantity,entry_price,opened_at\nAAPL,buy,1,2,2026-01-02T10:00:00Z\n".write(toFile: root + "/t.csv", atomically: true, encoding: .utf8)
        let keys = QueueKeyspace(namespace: namespace)
        let id = try dispatcher.enqueue(.init(type: "trades.import", args: ["user_id": 4242, "source": "t.csv"], options: .init(queue: "imports")))
        let importer = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--queues", "imports"], environment: environment.merging(["FERRY_IMPORT_ROOT": root]) { $1 })
        defer { importer.signal(SIGTERM); importer.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try DeadSet(keys: keys).page(queue: "imports", offset: 0, limit: 1, on: redis).total == 1 }, "\(importer.output.suffix(2000))")
        let dead = try #require(try DeadSet(keys: keys).page(queue: "imports", offset: 0, limit: 1, on: redis).jobs.first)
        #expect(dead.id == id && dead.job?.attempt == 1, "retried: \(String(describing: dead.job?.attempt)) attempts")
        #expect(dead.error.type == "PostgresError" && dead.error.message.contains("23503") && dead.error.message.contains("4242"), "\(dead.error)")
    }
}
