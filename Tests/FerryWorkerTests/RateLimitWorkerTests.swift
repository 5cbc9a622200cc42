import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Rate limits across real worker processes: the fleet keeps the limit, per key, and a
/// handler's "limited until" holds every process.
@Suite(.serialized) struct RateLimitWorkerTests {
    let namespace = "ratetest-\(UUID().uuidString.prefix(8))"
    let keys: QueueKeyspace
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let jobsDirectory: String

    init() throws {
        keys = QueueKeyspace(namespace: namespace)
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        jobsDirectory = NSTemporaryDirectory() + "ferry-rate-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
    }

    func workers(_ count: Int, rate: String) throws -> [ChildProcess] {
        try "rate: \(rate)\n".write(toFile: jobsDirectory + "/ferry.probe.yml", atomically: true, encoding: .utf8)
        return try (0..<count).map { _ in
            try ChildProcess([TestEnvironment.ferryBinary, "worker", "--concurrency", "4", "--queues", "default", "--jobs-dir", jobsDirectory], environment: [
                "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
            ])
        }
    }

    func stop(_ workers: [ChildProcess]) {
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { worker.waitForExit(timeout: 30) }
    }

    /// The start times (Unix seconds) `ferry.probe` recorded in list `key`, sorted.
    func starts(_ key: String) throws -> [Double] {
        try (redis.command("LRANGE", .string(key), 0, -1).array ?? []).compactMap { line in
            line.string?.split(separator: " ").last.flatMap { Double($0) }
        }.sorted()
    }

    @Test func twoProcessesKeepALimitPerKeyInEverySecond() throws {
        let limit = 20, burst = 4, perKey = 100
        let lists = ["\(namespace):a", "\(namespace):b"]
        for list in lists {
            try dispatcher.enqueue(batch: (0..<perKey).map { _ in Dispatcher.JobRequest(type: "ferry.probe", args: .object(["key": .string(list)])) })
        }
        let fleet = try workers(2, rate: "{limit: \(limit), per: 1s, burst: \(burst), key: key}")
        defer { stop(fleet) }
        #expect(try eventually(timeout: 60) { try lists.allSatisfy { try redis.command("LLEN", .string($0)).int == perKey } },
                "\(fleet.map { $0.output.suffix(1500) })")
        for list in lists {
            let times = try starts(list)
            #expect(times.count == perKey)
            // No one-second window holds more than limit + burst starts.
            var busiest = 0
            for (index, start) in times.enumerated() {
                busiest = max(busiest, times[index...].prefix { $0 < start + 1 }.count)
            }
            #expect(busiest <= limit + burst, "busiest second of \(list): \(busiest) starts")
            // After the first burst, the budget is used at its rate: within 5% of the limit.
            let rate = Double(times.count - burst) / (times.last! - times.first!)
            print("rate limit \(limit)/s burst \(burst), 2 processes: \(list) busiest second \(busiest) starts, \(rate) jobs/s after the burst")
            #expect(abs(rate - Double(limit)) <= Double(limit) * 0.05, "\(list): \(rate) jobs/s")
        }
        // Parked jobs spent no attempt: nothing failed.
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).failed == 0)
        let status = try #require(try RateLimits(keys: keys).status(on: redis).first)
        #expect(status.type == "ferry.probe" && status.limit.limit == limit && status.waiting == 0)
        #expect(Set(status.budgets.map(\.key)) == Set(lists))
        let stats = try ChildProcess([TestEnvironment.ferryBinary, "stats"], environment: ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace])
        #expect(stats.waitForExit(timeout: 30) == 0)
        #expect(stats.output.contains("rate limit ferry.probe: 20 per 1.0 seconds, burst 4, one budget per key; 0 waiting"), "\(stats.output)")
    }

    @Test func limitedUntilHoldsTheBudgetInEveryProcess() throws {
        let list = "\(namespace):held"
        // The first job to run hears "limited for 1.5 s"; 20 more wait behind it.
        try dispatcher.enqueue(.init(type: "ferry.probe", args: .object(["key": .string(list), "limited_ms": .int(1500)])))
        let fleet = try workers(2, rate: "{limit: 1000, per: 1s, burst: 50, key: key}")
        defer { stop(fleet) }
        #expect(try eventually(timeout: 30) { try redis.command("EXISTS", .string(list + ":limited")).int == 1 })
        try dispatcher.enqueue(batch: (0..<20).map { _ in Dispatcher.JobRequest(type: "ferry.probe", args: .object(["key": .string(list)])) })
        #expect(try eventually(timeout: 30) { try redis.command("LLEN", .string(list)).int == 21 }, "\(fleet.map { $0.output.suffix(1500) })")
        let limitedAt = try #require(try redis.command("GET", .string(list + ":limited")).string.flatMap(Double.init))
        let times = try starts(list)
        // Nothing of the budget ran in either process before the hold ended (10 ms for clock reading).
        #expect(times.first! >= limitedAt + 1.49, "first start \(times.first! - limitedAt) s after the 429")
        // The limited job ran again without spending an attempt.
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).failed == 0)
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).processed == 21)
    }
}
