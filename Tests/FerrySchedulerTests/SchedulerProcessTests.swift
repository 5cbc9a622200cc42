import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Real `ferry scheduler` processes against the test Redis.
@Suite struct SchedulerProcessTests {
    let namespace = "stest-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let redis: RedisConnection
    let directory: String

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        directory = NSTemporaryDirectory() + "ferry-schedules-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func writeSchedules(_ yaml: String) throws {
        try yaml.write(toFile: directory + "/test.yml", atomically: true, encoding: .utf8)
    }

    func scheduler(redisURL: String? = nil) throws -> ChildProcess {
        try ChildProcess([TestEnvironment.ferryBinary, "scheduler", "--schedules", directory], environment: [
            "FERRY_REDIS_URL": redisURL ?? TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ])
    }

    /// Tick times (whole seconds) of the jobs enqueued on `queue`, in order, with duplicates kept.
    func ticks(_ queue: String, on connection: RedisConnection? = nil) throws -> [Int] {
        let jobs = try ((connection ?? redis).command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).map { try Job.decode($0.bytes!) }
        return jobs.compactMap { $0.tick.map { Int($0.rounded()) } }.sorted()
    }

    /// The binary end to end; ticks, restarts and outages are tested on a hand-moved clock in
    /// `SchedulerClockTests`.
    @Test func theSchedulerProcessEnqueuesTicksAndStopsOnSIGTERM() throws {
        try writeSchedules("""
            every-second:
              cron: "* * * * * *"
              job: ferry.noop
              queue: ticks
            """)
        let process = try scheduler()
        #expect(try eventually(timeout: 10) { try ticks("ticks").count >= 2 }, "\(process.output.suffix(1500))")
        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 10) == 0, "\(process.output.suffix(1000))")
        let seen = try ticks("ticks")
        if let first = seen.first, let last = seen.last {
            #expect(seen == Array(first...last), "ticks missing or repeated: \(seen)")
        }
        #expect(process.output.contains("scheduler stopped"))
    }

    @Test func anInvalidFileStopsTheSchedulerWithTheReason() throws {
        try writeSchedules("""
            broken:
              cron: "61 * * * *"
              job: ferry.noop
            """)
        let process = try scheduler()
        #expect(process.waitForExit(timeout: 30) != 0)
        #expect(process.output.contains("test.yml: entry 'broken': invalid cron expression '61 * * * *': minute '61' is not in 0–59"), "\(process.output)")
        let check = try ChildProcess([TestEnvironment.ferryBinary, "schedules", "--check", "--schedules", directory])
        #expect(check.waitForExit(timeout: 30) != 0)
        #expect(check.output.contains("entry 'broken'"))
    }
}
