import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Every transition of a job, against the test Redis. Each test has a namespace of its own.
@Suite struct QueueTransitionTests {
    let keys = QueueKeyspace(namespace: "test-\(UUID().uuidString.prefix(8))")
    let pool: RedisConnectionPool
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let admin: QueueAdmin

    init() throws {
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        pool = RedisConnectionPool(configuration: configuration, capacity: 2)
        redis = try RedisConnection(configuration: configuration)
        dispatcher = Dispatcher(redis: pool, keys: keys)
        admin = QueueAdmin(keys: keys)
    }

    var consumer: Consumer { Consumer(worker: "w1", lane: .slot(0)) }
    var settler: Settler { Settler(keys: keys) }

    func fetcher(_ consumer: Consumer? = nil) -> Fetcher { Fetcher(keys: keys, consumer: consumer ?? self.consumer) }

    func ready(_ queue: String = "default") throws -> [Job] {
        try (redis.command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).map { try Job.decode($0.bytes!) }
    }

    @Test func enqueueWritesTheDocumentedEnvelope() throws {
        let id = try dispatcher.enqueue(.init(type: "email.send", args: .object(["user_id": .int(9_007_199_254_740_993)])))
        let raw = try #require(try redis.command("LINDEX", .string(keys.ready("default")), 0).string)
        let object = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(raw.utf8)).object)
        #expect(object["id"]?.string == id)
        #expect(object["type"]?.string == "email.send")
        #expect(object["queue"]?.string == "default")
        #expect(object["attempt"]?.int == 1)
        #expect(object["max_attempts"]?.int == 10)
        #expect(object["args"]?["user_id"] == .int(9_007_199_254_740_993))
        #expect(object["created_at"]?.double != nil)
        #expect(object["enqueued_at"]?.double != nil)
        #expect(try redis.command("SISMEMBER", .string(keys.queues), "default").int == 1)
        let stats = try admin.queues.stats(on: redis)
        #expect(stats.queues["default"]?.ready == 1)
    }

    @Test func invalidJobsAreRefusedAndNothingIsWritten() throws {
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "has space")) }
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "x", args: .array([]))) }
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "x", options: .init(queue: "{evil}"))) }
        let big = String(repeating: "a", count: 600 * 1024)
        do {
            try dispatcher.enqueue(.init(type: "x", args: .object(["blob": .string(big)])))
            Issue.record("a 600 KiB job was accepted")
        } catch {
            guard case .payloadTooLarge(let bytes, let limit) = error else { Issue.record("\(error)"); return }
            #expect(bytes > limit)
            #expect(limit == 512 * 1024)
        }
        // A batch with one bad job writes nothing.
        #expect(throws: QueueError.self) {
            try dispatcher.enqueue(batch: [.init(type: "ok"), .init(type: "bad type")])
        }
        #expect(try redis.command("EXISTS", .string(keys.ready("default"))).int == 0)
    }

    @Test func delayedJobsWaitUntilDueThenArePromotedOnce() throws {
        let promoter = ScheduledPromoter(keys: keys)
        try dispatcher.enqueue(.init(type: "later", options: .runIn(.seconds(60))))
        #expect(try ready().isEmpty)
        #expect(try promoter.promoteDue(in: ["default"], on: redis) == 0)
        // Due by the server's clock: move the score into the past as time passing would.
        let member = try #require(try redis.command("ZRANGE", .string(keys.scheduled("default")), 0, 0).array?.first?.bytes)
        try redis.command("ZADD", .string(keys.scheduled("default")), "XX", .string(String(Int64(Date().timeIntervalSince1970 * 1000) - 1000)), .bytes(member))
        #expect(try promoter.promoteDue(in: ["default"], on: redis) == 1)
        #expect(try promoter.promoteDue(in: ["default"], on: redis) == 0)
        #expect(try ready().map(\.type) == ["later"])
    }

    @Test func uniqueJobsAreEnqueuedOnceUntilFinished() throws {
        let options = EnqueueOptions(uniqueKey: "rollup:2026-11-24")
        let first = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        let second = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        #expect(first == second)
        #expect(try ready().count == 1)

        let fetched = try #require(try fetcher().fetch(from: "default", limit: 10, on: redis).first)
        #expect(try settler.settle(fetched, .done, on: redis).applied)
        // A second acknowledgement finds nothing in flight and must not release a key another job holds.
        let holder = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        #expect(try !settler.settle(fetched, .done, on: redis).applied)
        #expect(try redis.command("GET", .string(keys.unique("default", key: "rollup:2026-11-24"))).string == holder)
        try redis.command("DEL", .string(keys.unique("default", key: "rollup:2026-11-24")))
        let third = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        #expect(third != first)
    }

    @Test func bulkEnqueueWithUniqueJobsNeedsOnlyOneConnection() throws {
        let single = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        let ids = try single.enqueue(batch: [
            .init(type: "a"), .init(type: "b", options: .init(uniqueKey: "u1")), .init(type: "b", options: .init(uniqueKey: "u1")),
        ])
        #expect(ids[1] == ids[2])
        #expect(try ready().count == 2)
    }

    @Test func bulkEnqueueWritesEveryJobInOrder() throws {
        var requests = (0..<5000).map { Dispatcher.JobRequest(type: "ferry.noop", args: .object(["n": .int(Int64($0))])) }
        requests.append(.init(type: "ferry.noop", options: .init(queue: "low")))
        requests.append(.init(type: "ferry.noop", options: .runIn(.seconds(30))))
        let ids = try dispatcher.enqueue(batch: requests)
        #expect(Set(ids).count == 5002)
        let jobs = try ready()
        #expect(jobs.count == 5000)
        // Fetch order (from the right) is enqueue order.
        #expect(jobs.last?.args["n"] == .int(0))
        #expect(try ready("low").count == 1)
        #expect(try redis.command("ZCARD", .string(keys.scheduled("default"))).int == 1)
    }

    @Test func fetchMovesJobsInFlightAndAckFinishesThem() throws {
        try dispatcher.enqueue(batch: (0..<25).map { _ in .init(type: "ferry.noop") })
        let fetcher = fetcher()
        let fetched = try fetcher.fetch(from: "default", limit: 10, on: redis)
        #expect(fetched.count == 10)
        #expect(try redis.command("LLEN", .string(keys.inflight("default", consumer: consumer))).int == 10)
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 15)
        // The oldest is rightmost: the one a consumer runs first.
        #expect(try redis.command("LINDEX", .string(keys.inflight("default", consumer: consumer)), -1).bytes == fetched[0].payload)
        for job in fetched { #expect(try settler.settle(job, .done, on: redis).applied) }
        #expect(try redis.command("LLEN", .string(keys.inflight("default", consumer: consumer))).int == 0)
        #expect(try admin.queues.stats(on: redis).processed == 10)
        // Acknowledging twice changes nothing.
        for job in fetched { #expect(try !settler.settle(job, .done, on: redis).applied) }
        #expect(try admin.queues.stats(on: redis).processed == 10)
    }

    @Test func batchesFetchInOrderAndBatchAcknowledgementsTakeOutExactlyTheirJobs() throws {
        try dispatcher.enqueue(batch: (0..<2_600).map { Dispatcher.JobRequest(type: "ferry.noop", args: .object(["n": .int(Int64($0))])) })
        let fetcher = fetcher()
        let inflight = RedisArgument.string(keys.inflight("default", consumer: consumer))
        func numbers(_ jobs: [FetchedJob]) throws -> [Int?] { try jobs.map { try $0.job.get().args["n"]?.int } }
        // Larger than one push of the script; then a fetch that finds fewer jobs than it asks for.
        let first = try fetcher.fetch(from: "default", limit: 2_500, on: redis)
        let rest = try fetcher.fetch(from: "default", limit: 200, on: redis)
        #expect(try numbers(first) == (0..<2_500).map { Int?($0) })
        #expect(try numbers(rest) == (2_500..<2_600).map { Int?($0) })
        #expect(try redis.command("EXISTS", .string(keys.ready("default"))).int == 0)
        // In flight the oldest is rightmost, the newest leftmost.
        let listed = try (redis.command("LRANGE", inflight, 0, -1).array ?? []).map { $0.bytes ?? [] }
        #expect(listed == (first + rest).reversed().map(\.payload))

        // The oldest ones, in order: taken out at once.
        try settler.post(batch: Array(first[0..<1_000]), on: redis)
        try redis.confirmPosted()
        #expect(try redis.command("LLEN", inflight).int == 1_600)
        #expect(try redis.command("LINDEX", inflight, -1).bytes == first[1_000].payload)
        // Not the oldest, or not in order: each one found and taken out, the others stay.
        try settler.post(batch: [first[1_001], first[1_003]], on: redis)
        try settler.post(batch: [first[1_005], first[1_004]], on: redis)
        try redis.confirmPosted()
        #expect(try redis.command("LLEN", inflight).int == 1_596)
        #expect(try redis.command("LINDEX", inflight, -1).bytes == first[1_000].payload)
        #expect(try redis.command("LINDEX", inflight, -2).bytes == first[1_002].payload)
        #expect(try redis.command("LINDEX", inflight, -3).bytes == first[1_006].payload)
        // Acknowledged again: nothing changes, nothing counted twice.
        try settler.post(batch: Array(first[0..<1_000]) + [first[1_001]], on: redis)
        try redis.confirmPosted()
        #expect(try redis.command("LLEN", inflight).int == 1_596)
        #expect(try admin.queues.stats(on: redis).processed == 1_004)
    }

    @Test func aPausedQueueIsNotFetched() throws {
        try dispatcher.enqueue(.init(type: "ferry.noop"))
        let fetcher = fetcher()
        try admin.paused.pause("default", on: redis)
        #expect(try fetcher.fetch(from: "default", limit: 10, on: redis).isEmpty)
        #expect(try admin.queues.stats(on: redis).queues["default"]?.paused == true)
        try admin.paused.resume("default", on: redis)
        #expect(try fetcher.fetch(from: "default", limit: 10, on: redis).count == 1)
    }

    @Test func aFailedAttemptIsRetriedLaterWithItsError() throws {
        try dispatcher.enqueue(.init(type: "ferry.fail"))
        let fetcher = fetcher()
        let fetched = try #require(try fetcher.fetch(from: "default", limit: 1, on: redis).first)
        let job = try fetched.job.get()
        let failure = JobFailure(type: "SMTPError", message: "relay refused")
        #expect(try settler.settle(fetched, .retry(failure, after: .zero), on: redis).applied)
        #expect(try redis.command("LLEN", .string(keys.inflight("default", consumer: consumer))).int == 0)
        #expect(try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis) == 1)
        let retried = try #require(try ready().first)
        #expect(retried.id == job.id)
        #expect(retried.attempt == 2)
        #expect(retried.error?.message == "relay refused")
        #expect(try admin.queues.stats(on: redis).failed == 1)
        // A job that already left this worker is not retried twice.
        #expect(try !settler.settle(fetched, .retry(failure, after: .zero), on: redis).applied)
    }

    @Test func everyAttemptsFailureIsKeptUpToTwenty() throws {
        try dispatcher.enqueue(.init(type: "ferry.fail", options: .init(maxAttempts: 30)))
        for attempt in 1...24 {
            _ = try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis)
            let fetched = try #require(try fetcher().fetch(from: "default", limit: 1, on: redis).first)
            let failure = JobFailure(type: "E\(attempt)", message: "attempt \(attempt) failed")
            #expect(try settler.settle(fetched, attempt < 24 ? .retry(failure, after: .zero) : .bury(failure), on: redis).applied)
        }
        let dead = try #require(try admin.dead.jobs(limit: 1, on: redis).first)
        #expect(dead.error.type == "E24")
        #expect(dead.job?.error?.type == "E23")
        // The twenty before it, oldest first: attempts 3 to 22.
        #expect(dead.job?.failures?.map(\.type) == (3...22).map { "E\($0)" })
    }

    @Test func countersOthersWroteNeitherTrapNorMislead() throws {
        // Two queues whose counters someone set to the largest integer, one to text: the totals
        // are bounded, nothing traps (the admin server, /metrics and ferry stats all add them).
        try dispatcher.enqueue(batch: [.init(type: "t", options: EnqueueOptions(queue: "a")), .init(type: "t", options: EnqueueOptions(queue: "b"))])
        for queue in ["a", "b"] {
            try redis.command("SET", .string(keys.processed(queue)), "9223372036854775807")
            try redis.command("SET", .string(keys.failed(queue)), "-9223372036854775808")
        }
        try redis.command("SET", .string(keys.trimmed("a")), "lots")
        let stats = try admin.queues.stats(on: redis)
        #expect(stats.queues["a"]?.processed == 1 << 50 && stats.queues["a"]?.failed == 0 && stats.queues["a"]?.trimmed == 0)
        #expect(stats.processed == 1 << 51 && stats.failed == 0)
        let big = TypeHealth.Counts(succeeded: .max, retried: 1, dead: 1)
        #expect((big + big).succeeded == .max && big.attempts == .max)
    }

    @Test func deadJobsCanBeListedRetriedAndDeleted() throws {
        try dispatcher.enqueue(batch: [.init(type: "a"), .init(type: "b")])
        let fetcher = fetcher()
        for fetched in try fetcher.fetch(from: "default", limit: 2, on: redis) {
            #expect(try settler.settle(fetched, .bury(JobFailure(type: "Boom", message: "exploded")), on: redis).applied)
        }
        let dead = try admin.dead.jobs(on: redis)
        #expect(dead.count == 2)
        #expect(Set(dead.compactMap(\.job?.type)) == ["a", "b"])
        #expect(dead.allSatisfy { $0.error.message == "exploded" && $0.queue == "default" })

        let a = try #require(dead.first { $0.job?.type == "a" })
        #expect(try admin.dead.job(id: a.id, on: redis)?.job?.type == "a")
        #expect(try admin.dead.retry(a, on: redis))
        #expect(try !admin.dead.retry(a, on: redis))
        let again = try #require(try ready().first)
        #expect(again.id == a.id)
        #expect(again.attempt == 1)
        // What it died of stays on it: its page still shows every failure.
        #expect(again.error?.message == "exploded" && again.error?.type == "Boom")

        let b = try #require(dead.first { $0.job?.type == "b" })
        #expect(try admin.dead.delete(b, on: redis))
        #expect(try admin.dead.jobs(on: redis).isEmpty)
    }

    @Test func aMalformedPayloadIsFetchedAsAFailureAndBuriedWithItsRawText() throws {
        try redis.command("SADD", .string(keys.queues), "default")
        try redis.command("LPUSH", .string(keys.ready("default")), "{not json")
        try redis.command("LPUSH", .string(keys.ready("default")), #"{"id": "x1", "type": "t"}"#)
        let fetcher = fetcher()
        let fetched = try fetcher.fetch(from: "default", limit: 5, on: redis)
        #expect(fetched.count == 2)
        for item in fetched {
            guard case .failure(let error) = item.job else { Issue.record("a malformed payload parsed"); continue }
            #expect(try settler.settle(item, .bury(JobFailure(type: "MalformedJob", message: error.description)), on: redis).applied)
        }
        let dead = try admin.dead.jobs(on: redis)
        #expect(Set(dead.map(\.raw)).isSuperset(of: ["{not json"]))
        #expect(dead.contains { $0.error.message.contains("missing field") })
        #expect(dead.allSatisfy { $0.id.hasPrefix("raw-") })
    }

    @Test func requeuePutsJobsBackAtTheFrontOfTheLine() throws {
        try dispatcher.enqueue(batch: (0..<3).map { Dispatcher.JobRequest(type: "ferry.noop", args: .object(["n": .int(Int64($0))])) })
        let fetcher = fetcher()
        let fetched = try fetcher.fetch(from: "default", limit: 2, on: redis)
        try dispatcher.enqueue(.init(type: "ferry.noop", args: .object(["n": .int(3)])))
        #expect(try fetcher.requeue(fetched, on: redis) == 2)
        let next = try fetcher.fetch(from: "default", limit: 4, on: redis).map { try $0.job.get().args["n"]?.int }
        #expect(next == [0, 1, 2, 3])
    }
}

@Suite struct JobEncodingTests {
    @Test func theFastWriterRoundTripsEveryField() throws {
        let job = Job(
            type: "csv.import", queue: "imports",
            args: .object([
                "path": .string("/tmp/a \"b\"\\c\n\t\u{01}é"), "n": .int(-9_007_199_254_740_993), "ratio": .double(0.125),
                "list": .array([.null, .bool(true), .bool(false), .object([:]), .array([])]), "big": .double(1e300),
            ]),
            attempt: 3, maxAttempts: 7, createdAt: 1_795_519_281.207339, enqueuedAt: 1_795_519_282, runAt: 1_795_519_300.5,
            uniqueKey: "import:42", timeoutS: 90, error: JobFailure(type: "CSVError", message: "row 7: bad \"price\"", at: 1_795_519_290.25),
            failures: [JobFailure(type: "Timeout", message: "took 90 s", at: 1_795_519_285), JobFailure(type: "PostgresError", message: "57P01", at: 1_795_519_287.5)]
        )
        let decoded = try Job.decode(job.encoded())
        #expect(decoded == job)
        // JSONDecoder reads the same bytes the same way.
        #expect(try JSONDecoder().decode(Job.self, from: Data(job.encoded())) == job)
        let minimal = Job(type: "ferry.noop", queue: "default", maxAttempts: 10)
        #expect(try Job.decode(minimal.encoded()) == minimal)
        // The same shape JSONEncoder would give: sorted keys, no spaces.
        let text = String(decoding: minimal.encoded(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"args":{},"attempt":1,"created_at":"#))
        #expect(text.hasSuffix(#","max_attempts":10,"queue":"default","type":"ferry.noop"}"#))
    }
}
