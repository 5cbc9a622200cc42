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
        let stats = try admin.stats(on: redis)
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
        #expect(try promoter.promoteDue(in: ["default"], now: Date().addingTimeInterval(61), on: redis) == 1)
        #expect(try promoter.promoteDue(in: ["default"], now: Date().addingTimeInterval(61), on: redis) == 0)
        #expect(try ready().map(\.type) == ["later"])
    }

    @Test func uniqueJobsAreEnqueuedOnceUntilFinished() throws {
        let options = EnqueueOptions(uniqueKey: "rollup:2026-11-24")
        let first = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        let second = try dispatcher.enqueue(.init(type: "analytics.rollup", options: options))
        #expect(first == second)
        #expect(try ready().count == 1)

        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let fetched = try fetcher.fetch(from: "default", limit: 10, on: redis)
        #expect(try fetcher.acknowledge(fetched, on: redis) == 1)
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
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let fetched = try fetcher.fetch(from: "default", limit: 10, on: redis)
        #expect(fetched.count == 10)
        #expect(try redis.command("LLEN", .string(keys.inflight("default", worker: "w1"))).int == 10)
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 15)
        #expect(try fetcher.acknowledge(fetched, on: redis) == 10)
        #expect(try redis.command("LLEN", .string(keys.inflight("default", worker: "w1"))).int == 0)
        #expect(try admin.stats(on: redis).processed == 10)
        // Acknowledging twice changes nothing.
        #expect(try fetcher.acknowledge(fetched, on: redis) == 0)
        #expect(try admin.stats(on: redis).processed == 10)
    }

    @Test func aPausedQueueIsNotFetched() throws {
        try dispatcher.enqueue(.init(type: "ferry.noop"))
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        try admin.pause("default", on: redis)
        #expect(try fetcher.fetch(from: "default", limit: 10, on: redis).isEmpty)
        #expect(try admin.stats(on: redis).queues["default"]?.paused == true)
        try admin.resume("default", on: redis)
        #expect(try fetcher.fetch(from: "default", limit: 10, on: redis).count == 1)
    }

    @Test func aFailedAttemptIsRetriedLaterWithItsError() throws {
        try dispatcher.enqueue(.init(type: "ferry.fail"))
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let fetched = try #require(try fetcher.fetch(from: "default", limit: 1, on: redis).first)
        let job = try fetched.job.get()
        let recorder = FailureRecorder(keys: keys, workerID: "w1")
        let failure = JobFailure(type: "SMTPError", message: "relay refused")
        #expect(try recorder.retry(fetched, job: job, failure: failure, runAt: Date().addingTimeInterval(-1), on: redis))
        #expect(try redis.command("LLEN", .string(keys.inflight("default", worker: "w1"))).int == 0)
        #expect(try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis) == 1)
        let retried = try #require(try ready().first)
        #expect(retried.id == job.id)
        #expect(retried.attempt == 2)
        #expect(retried.error?.message == "relay refused")
        #expect(try admin.stats(on: redis).failed == 1)
        // A job that already left this worker is not retried twice.
        #expect(try !recorder.retry(fetched, job: job, failure: failure, runAt: Date(), on: redis))
    }

    @Test func deadJobsCanBeListedRetriedAndDeleted() throws {
        try dispatcher.enqueue(batch: [.init(type: "a"), .init(type: "b")])
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let recorder = FailureRecorder(keys: keys, workerID: "w1")
        for fetched in try fetcher.fetch(from: "default", limit: 2, on: redis) {
            #expect(try recorder.bury(fetched, failure: JobFailure(type: "Boom", message: "exploded"), on: redis))
        }
        let dead = try admin.deadJobs(on: redis)
        #expect(dead.count == 2)
        #expect(Set(dead.compactMap(\.job?.type)) == ["a", "b"])
        #expect(dead.allSatisfy { $0.error.message == "exploded" && $0.queue == "default" })

        let a = try #require(dead.first { $0.job?.type == "a" })
        #expect(try admin.deadJob(id: a.id, on: redis)?.job?.type == "a")
        #expect(try admin.retry(a, on: redis))
        #expect(try !admin.retry(a, on: redis))
        let again = try #require(try ready().first)
        #expect(again.id == a.id)
        #expect(again.attempt == 1)

        let b = try #require(dead.first { $0.job?.type == "b" })
        #expect(try admin.delete(b, on: redis))
        #expect(try admin.deadJobs(on: redis).isEmpty)
    }

    @Test func aMalformedPayloadIsFetchedAsAFailureAndBuriedWithItsRawText() throws {
        try redis.command("SADD", .string(keys.queues), "default")
        try redis.command("LPUSH", .string(keys.ready("default")), "{not json")
        try redis.command("LPUSH", .string(keys.ready("default")), #"{"id": "x1", "type": "t"}"#)
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let fetched = try fetcher.fetch(from: "default", limit: 5, on: redis)
        #expect(fetched.count == 2)
        let recorder = FailureRecorder(keys: keys, workerID: "w1")
        for item in fetched {
            guard case .failure(let error) = item.job else { Issue.record("a malformed payload parsed"); continue }
            #expect(try recorder.bury(item, failure: JobFailure(type: "MalformedJob", message: error.description), on: redis))
        }
        let dead = try admin.deadJobs(on: redis)
        #expect(Set(dead.map(\.raw)).isSuperset(of: ["{not json"]))
        #expect(dead.contains { $0.error.message.contains("missing field") })
        #expect(dead.allSatisfy { $0.id.hasPrefix("raw-") })
    }

    @Test func orphansOfADeadWorkerArePutBackExactlyOnce() throws {
        try dispatcher.enqueue(batch: (0..<3).map { _ in .init(type: "ferry.noop") })
        let registry = WorkerRegistry(keys: keys)
        let doomed = WorkerInfo(id: "doomed", host: "h", pid: 1, queues: ["default"], concurrency: 1, startedAt: 0)
        try registry.beat(doomed, ttl: .milliseconds(100), on: redis)
        #expect(try Fetcher(keys: keys, workerID: "doomed").fetch(from: "default", limit: 10, on: redis).count == 3)
        #expect(try registry.recoverOrphans(on: redis).workers.isEmpty)  // still alive
        usleep(200_000)
        let recovery = try registry.recoverOrphans(on: redis)
        #expect(recovery.workers == ["doomed"])
        #expect(recovery.restored == 3)
        #expect(try registry.recoverOrphans(on: redis).restored == 0)
        #expect(try ready().count == 3)
        #expect(try redis.command("EXISTS", .string(keys.inflight("default", worker: "doomed"))).int == 0)
    }

    @Test func aJobThatKeepsKillingWorkersGoesDead() throws {
        let id = try dispatcher.enqueue(.init(type: "ferry.exit"))
        let registry = WorkerRegistry(keys: keys)
        for round in 1...3 {
            let worker = WorkerInfo(id: "crash-\(round)", host: "h", pid: round, queues: ["default"], concurrency: 1, startedAt: 0)
            try registry.beat(worker, ttl: .milliseconds(50), on: redis)
            #expect(try Fetcher(keys: keys, workerID: worker.id).fetch(from: "default", limit: 1, on: redis).count == 1)
            usleep(100_000)
            let recovery = try registry.recoverOrphans(crashLimit: 3, on: redis)
            #expect(recovery.restored == (round < 3 ? 1 : 0))
            #expect(recovery.buried == (round < 3 ? 0 : 1))
        }
        let dead = try #require(try admin.deadJobs(on: redis).first)
        #expect(dead.id == id)
        #expect(dead.error.type == "WorkerCrashed")
        #expect(dead.error.message.contains("3 times"))
    }

    @Test func requeuePutsJobsBackAtTheFrontOfTheLine() throws {
        try dispatcher.enqueue(batch: (0..<3).map { Dispatcher.JobRequest(type: "ferry.noop", args: .object(["n": .int(Int64($0))])) })
        let fetcher = Fetcher(keys: keys, workerID: "w1")
        let fetched = try fetcher.fetch(from: "default", limit: 2, on: redis)
        try dispatcher.enqueue(.init(type: "ferry.noop", args: .object(["n": .int(3)])))
        #expect(try fetcher.requeue(fetched, on: redis) == 2)
        let next = try fetcher.fetch(from: "default", limit: 4, on: redis).map { try $0.job.get().args["n"]?.int }
        #expect(next == [1, 0, 2, 3])
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
            uniqueKey: "import:42", timeoutS: 90, error: JobFailure(type: "CSVError", message: "row 7: bad \"price\"", at: 1_795_519_290.25)
        )
        let decoded = try Job.decode(job.encoded())
        #expect(decoded == job)
        let minimal = Job(type: "ferry.noop", queue: "default", maxAttempts: 10)
        #expect(try Job.decode(minimal.encoded()) == minimal)
        // The same shape JSONEncoder would give: sorted keys, no spaces.
        let text = String(decoding: minimal.encoded(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"args":{},"attempt":1,"created_at":"#))
        #expect(text.hasSuffix(#","max_attempts":10,"queue":"default","type":"ferry.noop"}"#))
    }
}
