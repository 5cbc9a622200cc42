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

    @Test func aRedisOutageOverATickFollowsEachEntrysMissedTickPolicy() throws {
        try writeSchedules("""
            skipper:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: skipped
              missed: skip
            catcher:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: caught
              missed: run_once
            """)
        let server = try PrivateRedisServer(extraArguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let process = try scheduler(redisURL: server.url)
        defer { process.signal(SIGTERM); _ = process.waitForExit(timeout: 10) }
        let connection = try RedisConnection(url: server.url)
        #expect(try eventually(timeout: 15) { try ticks("skipped", on: connection).count == 1 && ticks("caught", on: connection).count == 1 })
        let first = try #require(try ticks("caught", on: connection).first)
        // Down from just before the tick at +10 s until +23 s: longer than the scheduler's 10 s
        // reconnect window after that tick, so the ticks at +10 s and +20 s are missed.
        Thread.sleep(until: Date(timeIntervalSince1970: Double(first) + 9))
        server.stop()
        Thread.sleep(until: Date(timeIntervalSince1970: Double(first) + 23))
        try server.start()
        let fresh = try RedisConnection(url: server.url)
        // run_once: the latest missed tick is enqueued once, as soon as Redis answers.
        #expect(try eventually(timeout: 5) { try ticks("caught", on: fresh) == [first, first + 20] },
                "\((try? ticks("caught", on: fresh)) ?? [])\n\(process.output.suffix(1500))")
        // skip: nothing for the missed ticks; the schedule resumes with the next one.
        #expect(try ticks("skipped", on: fresh) == [first], "\(process.output.suffix(1500))")
        #expect(try eventually(timeout: 10) { try ticks("skipped", on: fresh) == [first, first + 30] })
        #expect(try ticks("caught", on: fresh) == [first, first + 20, first + 30])
        #expect(process.output.contains("skipping ticks missed"), "\(process.output.suffix(1500))")
    }

    @Test func threeSchedulersEnqueueEachSecondExactlyOnce() throws {
        try writeSchedules("""
            every-second:
              cron: "* * * * * *"
              job: ferry.noop
              queue: ticks
            """)
        var schedulers = try (0..<3).map { _ in try scheduler() }
        usleep(20_000_000)
        // One of them dies hard mid-way and comes back; the others carry on.
        schedulers[0].signal(SIGKILL)
        _ = schedulers[0].waitForExit(timeout: 5)
        usleep(15_000_000)
        schedulers[0] = try scheduler()
        usleep(25_000_000)
        for process in schedulers { process.signal(SIGTERM) }
        for process in schedulers { #expect(process.waitForExit(timeout: 10) == 0, "\(process.output.suffix(1000))") }

        let seen = try ticks("ticks")
        #expect(seen.count >= 55, "only \(seen.count) ticks in a minute")
        #expect(Set(seen).count == seen.count, "duplicated ticks: \(seen.count - Set(seen).count)")
        if let first = seen.first, let last = seen.last {
            #expect(seen == Array(first...last), "missing ticks: \(Set(first...last).subtracting(seen).sorted())")
        }
        // Every job carries its tick and an id derived from it.
        let job = try Job.decode(try #require(try redis.command("LINDEX", .string(keys.ready("ticks")), 0).bytes))
        #expect(job.id == "every-second@\(Int64((job.tick! * 1000).rounded()))")
    }

    @Test func aRestartHonoursTheMissedTickPolicy() throws {
        try writeSchedules("""
            skipper:
              cron: "* * * * * *"
              job: ferry.noop
              queue: skip
              missed: skip
            catcher:
              cron: "* * * * * *"
              job: ferry.noop
              queue: once
              missed: run_once
            """)
        let first = try scheduler()
        usleep(3_000_000)
        first.signal(SIGTERM)
        #expect(first.waitForExit(timeout: 10) == 0)
        usleep(4_000_000)
        let second = try scheduler()
        usleep(3_000_000)
        second.signal(SIGTERM)
        #expect(second.waitForExit(timeout: 10) == 0)

        for queue in ["skip", "once"] {
            let seen = try ticks(queue)
            #expect(Set(seen).count == seen.count, "\(queue): duplicated ticks \(seen)")
        }
        // The largest gap between consecutive ticks: the downtime (about 4 s) with skip; with
        // run_once, one tick falls inside it, so no gap is that large.
        func largestGap(_ seen: [Int]) -> Int { zip(seen, seen.dropFirst()).map { $1 - $0 }.max() ?? 0 }
        let skipped = try ticks("skip")
        let caught = try ticks("once")
        #expect(largestGap(skipped) >= 3, "skip: \(skipped)")
        #expect(caught.count == skipped.count + 1, "run_once should add exactly one tick: \(caught) vs \(skipped)")
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
