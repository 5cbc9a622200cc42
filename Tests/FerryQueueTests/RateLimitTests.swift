import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The rate limiter's scripts against the test Redis: admission, parking in order, release with
/// grants, holds, reserved shares, and what `ferry stats` reads.
@Suite struct RateLimitTests {
    let keys = QueueKeyspace(namespace: "limit-\(UUID().uuidString.prefix(8))")
    let pool: RedisConnectionPool
    let redis: RedisConnection
    let dispatcher: Dispatcher

    init() throws {
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        pool = RedisConnectionPool(configuration: configuration, capacity: 2)
        redis = try RedisConnection(configuration: configuration)
        dispatcher = Dispatcher(redis: pool, keys: keys)
    }

    let consumer = Consumer(worker: "w1", lane: .slot(0))

    /// Enqueues `count` jobs of type `t` and fetches them into the consumer's in-flight list.
    func fetch(_ count: Int, queue: String = "default", args: JSONValue = .object([:])) throws -> [FetchedJob] {
        for _ in 0..<count { try dispatcher.enqueue(.init(type: "t", args: args, options: .init(queue: queue))) }
        return try Fetcher(keys: keys, consumer: consumer).fetch(from: queue, limit: count, on: redis)
    }

    func inflight(_ queue: String = "default") throws -> Int {
        try redis.command("LLEN", .string(keys.inflight(queue, consumer: consumer))).int ?? -1
    }

    func limiter(_ limit: RateLimit) -> RateLimiter { RateLimiter(type: "t", limit: limit, keys: keys) }

    @Test func aBurstIsAdmittedThenJobsParkAndComeBackInOrderWithTheirGrant() throws {
        // 2 per second, 3 at once (slow enough that a loaded machine takes the six decisions
        // before a token frees).
        let limiter = limiter(try RateLimit(limit: 2, period: .seconds(1), burst: 3))
        let jobs = try fetch(6)
        var decisions: [RateLimiter.Decision] = []
        for job in jobs { decisions.append(try limiter.acquire(job, job: try job.job.get(), on: redis)) }
        #expect(decisions.prefix(3).allSatisfy { $0 == .admitted }, "\(decisions)")
        #expect(decisions.dropFirst(3).allSatisfy { $0 != .admitted }, "\(decisions)")
        // The three parked jobs left the in-flight list, no attempt spent, nothing in the queue yet.
        #expect(try inflight() == 3)
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 0)
        let status = try #require(try { try limiter.register(on: redis); return try RateLimits(keys: keys).status(on: redis).first }())
        #expect(status.waiting == 3 && status.budgets.first?.available == 0, "\(status)")

        // One token frees every 500 ms: the parked jobs come back one by one, oldest first.
        let parkedIDs = try jobs.dropFirst(3).map { try $0.job.get().id }
        var returned: [String] = []
        let deadline = Date().addingTimeInterval(5)
        while returned.count < 3, Date() < deadline {
            try limiter.release(on: redis)
            // Take each one as a worker would: from the right, with its grant (admitted without a token).
            while let fetched = try Fetcher(keys: keys, consumer: consumer).fetch(from: "default", limit: 1, on: redis).first {
                let job = try fetched.job.get()
                #expect(try limiter.acquire(fetched, job: job, on: redis) == .admitted)
                returned.append(job.id)
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(returned == parkedIDs)
        #expect(try RateLimits(keys: keys).status(on: redis).first?.waiting == 0)
    }

    @Test func newJobsQueueBehindParkedOnesAndKeysHaveTheirOwnBudgets() throws {
        let limiter = limiter(try RateLimit(limit: 1, period: .seconds(60), burst: 1, key: "model"))
        let a = try fetch(2, args: .object(["model": .string("a")]))
        let b = try fetch(1, args: .object(["model": .string("b")]))
        #expect(try limiter.acquire(a[0], job: try a[0].job.get(), on: redis) == .admitted)
        guard case .parked(let retryIn) = try limiter.acquire(a[1], job: try a[1].job.get(), on: redis) else {
            Issue.record("the second job of budget a was admitted"); return
        }
        #expect(retryIn > .seconds(50) && retryIn <= .seconds(60), "\(retryIn)")
        // Budget b is untouched by a.
        #expect(try limiter.acquire(b[0], job: try b[0].job.get(), on: redis) == .admitted)
        try limiter.register(on: redis)
        let budgets = try #require(try RateLimits(keys: keys).status(on: redis).first?.budgets)
        #expect(Set(budgets.map(\.key)) == ["a", "b"])
        #expect(budgets.first { $0.key == "a" }?.waiting == 1)
    }

    @Test func aHoldStopsTheBudgetForEveryoneAndTheLimitedJobGoesFirst() throws {
        let limiter = limiter(try RateLimit(limit: 1000, period: .seconds(1), burst: 100))
        let jobs = try fetch(3)
        #expect(try limiter.acquire(jobs[0], job: try jobs[0].job.get(), on: redis) == .admitted)
        // The handler was told "429, retry after 300 ms".
        try limiter.putBack(jobs[0], job: try jobs[0].job.get(), holdFor: .milliseconds(300), on: redis)
        #expect(try inflight() == 2)
        let held = Date()
        // Plenty of tokens, but the budget is held: the others park behind the limited job.
        #expect(try limiter.acquire(jobs[1], job: try jobs[1].job.get(), on: redis) != .admitted)
        #expect(try limiter.acquire(jobs[2], job: try jobs[2].job.get(), on: redis) != .admitted)
        try limiter.register(on: redis)
        let budget = try #require(try RateLimits(keys: keys).status(on: redis).first?.budgets.first)
        #expect(budget.heldUntil != nil && budget.available == 0 && budget.waiting == 3, "\(budget)")
        #expect(try limiter.release(on: redis).released == 0)
        var order: [String] = []
        while order.count < 3, Date().timeIntervalSince(held) < 5 {
            try limiter.release(on: redis)
            order += try (redis.command("LRANGE", .string(keys.ready("default")), 0, -1).array ?? []).reversed().map { try Job.decode($0.bytes!).id }
            try redis.command("DEL", .string(keys.ready("default")))
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(Date().timeIntervalSince(held) >= 0.25)
        #expect(order == (try jobs.map { try $0.job.get().id }))
    }

    @Test func aReservedShareStaysFreeForItsQueue() throws {
        // 10 a minute, 5 at once, 40% kept for `critical`: the other queues get 6 a minute, 3 at
        // once, so 2 are left for critical.
        let limiter = limiter(try RateLimit(limit: 10, period: .seconds(60), burst: 5, reserved: ["critical": 0.4]))
        let plain = try fetch(5)
        let admitted = try plain.filter { try limiter.acquire($0, job: try $0.job.get(), on: redis) == .admitted }.count
        #expect(admitted == 3)
        let critical = try fetch(3, queue: "critical")
        let criticalAdmitted = try critical.filter { try limiter.acquire($0, job: try $0.job.get(), on: redis) == .admitted }.count
        #expect(criticalAdmitted == 2)
    }

    @Test func grantsAreDeliveredOnceEvenWhenAReleaserDiedMidway() throws {
        let limiter = limiter(try RateLimit(limit: 100, period: .seconds(1), burst: 1))
        let jobs = try fetch(2)
        #expect(try limiter.acquire(jobs[0], job: try jobs[0].job.get(), on: redis) == .admitted)
        #expect(try limiter.acquire(jobs[1], job: try jobs[1].job.get(), on: redis) != .admitted)
        Thread.sleep(forTimeInterval: 0.05)
        // A releaser that died after granting: the record sits in the outbox, older than 5 s.
        let prefix = keys.limiter("t")
        let entry = try #require(try redis.command("LINDEX", .string(prefix + "wait:*:-"), 0).bytes)
        try redis.command("LPOP", .string(prefix + "wait:*:-"))
        try redis.command("ZREM", .string(prefix + "due"), "*:-")
        let record = Array("7\n".utf8) + entry
        try redis.command("ZADD", .string(prefix + "outbox"), .string(String(Int(Date().timeIntervalSince1970 * 1000) - 10_000)), .bytes(record))
        // Delivered by the next release, and only once however often it is delivered again.
        #expect(try limiter.release(on: redis).released == 1)
        try redis.command("ZADD", .string(prefix + "outbox"), "0", .bytes(record))
        try limiter.release(on: redis)
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 1)
        #expect(try redis.command("ZCARD", .string(prefix + "outbox")).int == 0)
    }

    @Test func absurdSettingsAreRefusedWithTheirReason() {
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 0, period: .seconds(1)) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: Int.max, period: .seconds(1)) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 1, period: .zero) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 1, period: .seconds(1), burst: -1) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 1, period: .seconds(1), reserved: ["a": 0.6, "b": 0.5]) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 1, period: .seconds(1), reserved: ["{x}": 0.1]) }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit(limit: 1, period: .seconds(1), reserved: ["a": .nan]) }
    }

    @Test func theBudgetKeyIsTheArgumentsValue() throws {
        let limit = try RateLimit(limit: 1, period: .seconds(1), key: "model")
        #expect(limit.budgetKey(of: .object(["model": .string("opus")])) == "opus")
        #expect(limit.budgetKey(of: .object(["model": .int(7)])) == "7")
        #expect(limit.budgetKey(of: .object([:])) == "-")
        #expect(limit.budgetKey(of: .object(["model": .array([])])) == "-")
        #expect(limit.budgetKey(of: .object(["model": .string(String(repeating: "x", count: 5000))])).utf8.count == 200)
    }

    @Test func stateOthersWroteNeverTrapsTheReaders() throws {
        let limiter = limiter(try RateLimit(limit: 5, period: .seconds(1), burst: 2))
        try limiter.register(on: redis)
        let jobs = try fetch(1)
        _ = try limiter.acquire(jobs[0], job: try jobs[0].job.get(), on: redis)
        // Garbage where numbers belong: a limit that bypasses the checks, times that are not times.
        try redis.command("HSET", .string(keys.limiters), "forged", #"{"limit":0,"period_ms":-5,"burst":-9223372036854775808,"reserved":{}}"#)
        try redis.command("HSET", .string(keys.limiters), "huge", #"{"limit":1,"period_ms":9223372036854775807,"burst":1,"reserved":{}}"#)
        try redis.command("SET", .string(keys.limiter("t") + "tat:-"), "nan")
        try redis.command("SET", .string(keys.limiter("t") + "hold:-"), "1e300")
        try redis.command("SET", .string(keys.limiter("t") + "wait:*:-"), "not a list")
        let status = try RateLimits(keys: keys).status(on: redis)
        #expect(status.map(\.type) == ["t"], "\(status)")
        let budget = try #require(status.first?.budgets.first)
        #expect((0...2).contains(budget.available) && budget.heldUntil == nil, "\(budget)")
        // A worker hash with absurd progress.
        #expect(WorkerInfo.BusyJob.Progress(done: .max, total: 3).percent == 100)
        #expect(WorkerInfo.BusyJob.Progress(done: .min, total: .max).percent == 0)
        #expect(WorkerInfo.BusyJob.Progress(done: 5, total: 0).percent == nil)
    }
}
