import FerryQueue
import FerryRedis
import FerryScheduler
import FerryTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// A clock the test moves by hand; `sleep` returns at once (tests call `runDue` themselves).
final class ManualClock: SchedulerClock {
    private let current: Mutex<Date>

    init(_ start: Date) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    func sleep(until deadline: Date, wake: DispatchSemaphore) {}
}

/// Schedulers in this process on a hand-moved clock against the test Redis: minutes of ticks,
/// restarts and outages in well under a second each.
@Suite struct SchedulerClockTests {
    let namespace = "sclock-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let redis: RedisConnection
    /// A whole minute, so that cron expressions line up with the test's seconds.
    let start = Date(timeIntervalSince1970: 1_795_500_000)

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    func entries(_ yaml: String) throws -> [ScheduleEntry] {
        let (entries, errors) = ScheduleFile.parse(yaml: yaml, file: "test.yml")
        #expect(errors.isEmpty, "\(errors)")
        return entries
    }

    func scheduler(_ entries: [ScheduleEntry], clock: ManualClock, redisURL: String? = nil) throws -> Scheduler {
        var configuration = try RedisConfiguration(url: redisURL ?? TestEnvironment.redisURL)
        // An outage is judged at once, not after the default reconnect window.
        configuration.reconnectWindow = .zero
        configuration.connectTimeout = .milliseconds(200)
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: configuration, capacity: 1), keys: keys)
        return Scheduler(entries: entries, dispatcher: dispatcher, logger: Logger(label: "test.scheduler"), clock: clock)
    }

    /// Tick times (seconds after `start`) of the jobs enqueued on `queue`, sorted, duplicates kept.
    func ticks(_ queue: String, on connection: RedisConnection? = nil) throws -> [Int] {
        let jobs = try ((connection ?? redis).command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).map { try Job.decode($0.bytes!) }
        return jobs.compactMap { $0.tick.map { Int(($0 - start.timeIntervalSince1970).rounded()) } }.sorted()
    }

    @Test func threeSchedulersEnqueueEachTickExactlyOnceThroughACrashAndRestart() throws {
        let every = try entries("""
            every-second:
              cron: "* * * * * *"
              job: ferry.noop
              queue: ticks
            """)
        let clock = ManualClock(start.addingTimeInterval(-0.5))
        var schedulers = try (0..<3).map { _ in try scheduler(every, clock: clock) }
        schedulers.forEach { $0.start() }
        // Ten virtual minutes; the three fire each second at once, from three threads. Scheduler 0
        // is gone from 120 s to 300 s (it crashed) and then comes back.
        for second in 0..<600 {
            clock.set(start.addingTimeInterval(Double(second) + 0.001))
            if second == 300 {
                schedulers[0] = try scheduler(every, clock: clock)
                schedulers[0].start()
            }
            let running = (120..<300).contains(second) ? Array(schedulers[1...]) : schedulers
            DispatchQueue.concurrentPerform(iterations: running.count) { index in _ = running[index].runDue() }
        }
        let seen = try ticks("ticks")
        #expect(seen == Array(0..<600), "missing \(Set(0..<600).subtracting(seen).sorted().prefix(10)), \(seen.count - Set(seen).count) duplicated")
        // Every job carries its tick and an id derived from it.
        let job = try Job.decode(try #require(try redis.command("LINDEX", .string(keys.ready("ticks")), 0).bytes))
        #expect(job.id == "every-second@\(Int64((job.tick! * 1000).rounded()))")
    }

    @Test func aRestartHonoursEachEntrysMissedTickPolicy() throws {
        let both = try entries("""
            skipper:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: skip
              missed: skip
            catcher:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: once
              missed: run_once
            """)
        let clock = ManualClock(start.addingTimeInterval(-1))
        let first = try scheduler(both, clock: clock)
        first.start()
        for second in stride(from: 0, through: 30, by: 10) {
            clock.set(start.addingTimeInterval(Double(second)))
            first.runDue()
        }
        // Down from 31 s to 95 s: the ticks at 40…90 s pass with no scheduler running.
        clock.set(start.addingTimeInterval(95))
        let second = try scheduler(both, clock: clock)
        second.start()
        clock.set(start.addingTimeInterval(100))
        second.runDue()
        #expect(try ticks("skip") == [0, 10, 20, 30, 100])
        // run_once: the latest missed tick (90 s) runs once, at start-up.
        #expect(try ticks("once") == [0, 10, 20, 30, 90, 100])
    }

    @Test func aRedisOutageOverATickFollowsEachEntrysMissedTickPolicy() throws {
        let both = try entries("""
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
        let clock = ManualClock(start.addingTimeInterval(-1))
        let scheduler = try scheduler(both, clock: clock, redisURL: server.url)
        scheduler.start()
        clock.set(start)
        scheduler.runDue()
        // Redis is down over the ticks at 10 s and 20 s; the scheduler keeps looking every second.
        server.stop()
        for second in 9...23 {
            clock.set(start.addingTimeInterval(Double(second)))
            let next = scheduler.runDue()
            #expect(next <= clock.now.addingTimeInterval(1) || second < 10, "a scheduler left behind waits \(next.timeIntervalSince(clock.now)) s")
        }
        try server.start()
        clock.set(start.addingTimeInterval(24))
        scheduler.runDue()
        let connection = try RedisConnection(url: server.url)
        // run_once: the latest missed tick is enqueued once, as soon as Redis answers; skip: none.
        #expect(try ticks("caught", on: connection) == [0, 20])
        #expect(try ticks("skipped", on: connection) == [0])
        // Then the schedule resumes for both.
        clock.set(start.addingTimeInterval(30))
        scheduler.runDue()
        #expect(try ticks("caught", on: connection) == [0, 20, 30])
        #expect(try ticks("skipped", on: connection) == [0, 30])
    }

    @Test func aTickDueWhenRedisAnswersAgainFiresOnTimeWhateverThePolicy() throws {
        let both = try entries("""
            skipper:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: skipped-late
              missed: skip
            catcher:
              cron: "*/10 * * * * *"
              job: ferry.noop
              queue: caught-late
              missed: run_once
            """)
        let server = try PrivateRedisServer(extraArguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let clock = ManualClock(start.addingTimeInterval(-1))
        let scheduler = try scheduler(both, clock: clock, redisURL: server.url)
        scheduler.start()
        clock.set(start)
        scheduler.runDue()
        server.stop()
        for second in 9...23 {
            clock.set(start.addingTimeInterval(Double(second)))
            scheduler.runDue()
        }
        // Redis answers again, and the scheduler looks next exactly at the 30 s tick: 10 s and 20 s
        // passed while it failed (the policy settles them), 30 s never failed and fires.
        try server.start()
        clock.set(start.addingTimeInterval(30))
        scheduler.runDue()
        let connection = try RedisConnection(url: server.url)
        #expect(try ticks("caught-late", on: connection) == [0, 20, 30])
        #expect(try ticks("skipped-late", on: connection) == [0, 30])
    }

    @Test func aLastTickOthersWroteOutsideTheCalendarNeitherTrapsNorBlocksTheEntry() throws {
        let every = try entries("""
            every-second:
              cron: "* * * * * *"
              job: ferry.noop
              queue: odd
            """)
        for written in ["9223372036854775807", "-9223372036854775808", "99999999999999999"] {
            try redis.command("DEL", .string(keys.ready("odd")))
            try redis.command("SET", .string(keys.schedule("odd", entry: "every-second")), .string(written))
            let clock = ManualClock(start.addingTimeInterval(-0.5))
            let scheduler = try scheduler(every, clock: clock)
            scheduler.start()
            for second in 0..<3 {
                clock.set(start.addingTimeInterval(Double(second)))
                scheduler.runDue()
            }
            #expect(try ticks("odd") == [0, 1, 2], "last tick \(written)")
        }
    }
}
