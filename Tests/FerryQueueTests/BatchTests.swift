import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Batches and chains against the test Redis: bookkeeping written with the jobs, every ending
/// counted once, callbacks enqueued once.
@Suite struct BatchTests {
    let keys = QueueKeyspace(namespace: "batch-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let batches: Batches

    init() throws {
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        redis = try RedisConnection(configuration: configuration)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: configuration, capacity: 2), keys: keys)
        batches = Batches(dispatcher: dispatcher)
    }

    let consumer = Consumer(worker: "w1", lane: .slot(0))
    var settler: Settler { Settler(keys: keys) }

    func fetchAll(_ queue: String = "default") throws -> [FetchedJob] {
        try Fetcher(keys: keys, consumer: consumer).fetch(from: queue, limit: 10_000, on: redis)
    }

    func readyJobs(_ queue: String = "default") throws -> [Job] {
        try (redis.command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).map { try Job.decode($0.bytes!) }
    }

    func request(_ type: String, _ args: [String: JSONValue] = [:]) -> Dispatcher.JobRequest {
        .init(type: type, args: .object(args))
    }

    @Test func callbacksAreEnqueuedOnceWhenEveryJobHasEnded() throws {
        let (id, ids) = try batches.enqueue(BatchRequest(
            jobs: (0..<3).map { request("work", ["n": .int(Int64($0))]) }, description: "three",
            onComplete: request("done", ["note": .string("all ended")]), onSuccess: request("celebrate")
        ))
        #expect(ids.count == 3)
        var status = try #require(try batches.status(id: id, on: redis))
        #expect(status.total == 3 && status.pending == 3 && status.sealed && status.completedAt == nil && status.description == "three")
        let fetched = try fetchAll()
        #expect(fetched.allSatisfy { (try? $0.job.get().batchMembership?.id) == id })
        #expect(Set(fetched.compactMap { try? $0.job.get().batchMembership?.index }) == [0, 1, 2])

        // One fails once (retried), then all succeed.
        try settler.settle(fetched[0], .retry(JobFailure(type: "E", message: "flaky"), after: .zero), on: redis)
        try settler.settle(fetched[1], .done, on: redis)
        try settler.settle(fetched[2], .succeeded(result: Array(#"{"ok":true}"#.utf8), ttl: .seconds(60)), on: redis)
        status = try #require(try batches.status(id: id, on: redis))
        #expect(status.pending == 1 && status.succeeded == 2 && status.failed == 1 && status.completedAt == nil)
        #expect(try readyJobs().isEmpty)
        // The retry comes due; it succeeds.
        try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis)
        let retried = try #require(try fetchAll().first)
        #expect(try retried.job.get().attempt == 2)
        try settler.settle(retried, .done, on: redis)

        status = try #require(try batches.status(id: id, on: redis))
        #expect(status.pending == 0 && status.succeeded == 3 && status.dead == 0 && status.completedAt != nil)
        #expect(status.callbacksEnqueued == ["on_complete", "on_success"])
        let callbacks = try readyJobs()
        #expect(callbacks.map(\.type).sorted() == ["celebrate", "done"])
        #expect(callbacks.allSatisfy { $0.args["batch_id"] == .string(id) })
        #expect(callbacks.first { $0.type == "done" }?.args["note"] == .string("all ended"))

        // A job settled again (it ran twice after a crash) changes nothing: no second callback.
        #expect(try settler.settle(retried, .done, on: redis).applied == false)
        #expect(try readyJobs().count == 2)
        // A job claiming a place the batch never gave out (written by someone else) changes nothing
        // and does not grow the bitmap.
        let forged = Job(type: "work", queue: "default", maxAttempts: 1, batch: "\(id):4000000000")
        try redis.command("LPUSH", .string(keys.ready("default")), .bytes(forged.encoded()))
        #expect(try settler.settle(try #require(try fetchAll().first { (try? $0.job.get().type) == "work" }), .done, on: redis).applied)
        #expect(try batches.status(id: id, on: redis)?.succeeded == 3)
        #expect(try redis.command("STRLEN", .string(keys.batch("default", id: id) + "pending")).int ?? 0 < 1000)
        // Nothing can join a complete batch.
        #expect(throws: QueueError.self) { try batches.add([request("late")], to: id, queue: "default") }
    }

    @Test func aDeadJobCompletesTheBatchWithoutSuccess() throws {
        let (id, _) = try batches.enqueue(BatchRequest(jobs: [request("a"), request("b")], onComplete: request("done"), onSuccess: request("celebrate")))
        let fetched = try fetchAll()
        try settler.settle(fetched[0], .bury(JobFailure(type: "E", message: "broken")), on: redis)
        try settler.settle(fetched[1], .done, on: redis)
        let status = try #require(try batches.status(id: id, on: redis))
        #expect(status.dead == 1 && status.succeeded == 1 && status.failed == 1 && status.completedAt != nil)
        #expect(status.callbacksEnqueued == ["on_complete"])
        #expect(try readyJobs().map(\.type) == ["done"])
    }

    @Test func aJobDeadAfterCrashingItsWorkerCountsAsDead() throws {
        let (id, _) = try batches.enqueue(BatchRequest(jobs: [request("poison")], onComplete: request("done")))
        let isolated = Consumer(worker: "w1", lane: .isolated)
        let registry = WorkerRegistry(keys: keys)
        try registry.register(worker: "w1", consumers: [consumer, isolated], queues: ["default"], on: redis)
        #expect(try Fetcher(keys: keys, consumer: isolated).fetch(from: "default", limit: 1, on: redis).count == 1)
        // Its worker died while it ran alone, and one crash is the limit here.
        let recovered = try registry.recover(worker: "w1", crashLimit: 1, deadSet: DeadSetPolicy(), on: redis)
        #expect(recovered.buried == 1)
        let status = try #require(try batches.status(id: id, on: redis))
        #expect(status.dead == 1 && status.pending == 0 && status.callbacksEnqueued == ["on_complete"])
    }

    @Test func jobsAddedByARunningJobKeepTheBatchOpen() throws {
        let (id, _) = try batches.enqueue(BatchRequest(jobs: [request("parent")], onComplete: request("done")))
        let parent = try #require(try fetchAll().first)
        // While it runs, the parent adds two children, then ends.
        let children = try batches.add([request("child"), request("child")], to: id, queue: "default")
        #expect(children.count == 2)
        try settler.settle(parent, .done, on: redis)
        var status = try #require(try batches.status(id: id, on: redis))
        #expect(status.total == 3 && status.pending == 2 && status.completedAt == nil)
        // A child adds a grandchild before it ends.
        let fetchedChildren = try fetchAll()
        try batches.add([request("grandchild")], to: id, queue: "default")
        for child in fetchedChildren { try settler.settle(child, .done, on: redis) }
        #expect(try batches.status(id: id, on: redis)?.completedAt == nil)
        let grandchild = try #require(try fetchAll().first)
        try settler.settle(grandchild, .done, on: redis)
        status = try #require(try batches.status(id: id, on: redis))
        #expect(status.total == 4 && status.succeeded == 4 && status.completedAt != nil)
        #expect(try readyJobs().map(\.type) == ["done"])
    }

    @Test func aLargeBatchGoesInChunksAndFiresOnlyWhenSealed() throws {
        let (id, ids) = try batches.enqueue(BatchRequest(jobs: (0..<2500).map { _ in request("work") }, onSuccess: request("celebrate")))
        #expect(Set(ids).count == 2500)
        let status = try #require(try batches.status(id: id, on: redis))
        #expect(status.total == 2500 && status.pending == 2500 && status.sealed)
        for job in try fetchAll() { try settler.post(job, on: redis) }
        try redis.confirmPosted()
        #expect(try batches.status(id: id, on: redis)?.callbacksEnqueued == ["on_success"])
        #expect(try readyJobs().map(\.type) == ["celebrate"])
    }

    @Test func batchesArePagedNewestFirstAcrossQueues() throws {
        var made: [String] = []
        for (index, queue) in ["default", "mail", "default", "mail", "low"].enumerated() {
            made.append(try batches.enqueue(BatchRequest(jobs: [.init(type: "ferry.noop", options: .init(queue: queue))], queue: queue, description: "b\(index)")).batch)
            usleep(5_000)  // distinct creation times
        }
        let first = try batches.page(offset: 0, limit: 2, on: redis)
        #expect(first.total == 5 && first.batches.map(\.id) == [made[4], made[3]])
        let second = try batches.page(offset: 2, limit: 2, on: redis)
        #expect(second.batches.map(\.id) == [made[2], made[1]])
        #expect(try batches.page(offset: 4, limit: 2, on: redis).batches.map(\.id) == [made[0]])
        #expect(try batches.page(offset: 10, limit: 2, on: redis).batches.isEmpty)
    }

    @Test func badBatchesAreRefusedAndWriteNothing() throws {
        #expect(throws: QueueError.self) { try batches.enqueue(BatchRequest(jobs: [])) }
        #expect(throws: QueueError.self) {
            try batches.enqueue(BatchRequest(jobs: [request("a"), .init(type: "b", options: .init(queue: "elsewhere"))]))
        }
        #expect(throws: QueueError.self) { try batches.enqueue(BatchRequest(jobs: [request("has space")])) }
        #expect(throws: QueueError.self) { try batches.enqueue(BatchRequest(jobs: [request("a")], onSuccess: .init(type: "b", args: .array([])))) }
        #expect(throws: QueueError.self) { try batches.add([request("a")], to: "b-none", queue: "default") }
        // A bad job in the second chunk: nothing of the first is written either.
        var jobs = (0..<1500).map { _ in request("a") }
        jobs[1200] = request("bad type")
        #expect(throws: QueueError.self) { try batches.enqueue(BatchRequest(jobs: jobs)) }
        #expect(try readyJobs().isEmpty)
        #expect(try batches.status(id: "b-none", on: redis) == nil)
    }

    @Test func aChainCarriesItsNextJobsThroughRetriesAndPassesTheResult() throws {
        let third = Dispatcher.JobRequest(type: "notify", args: .object(["to": .string("ops")]))
        var second = Dispatcher.JobRequest(type: "transform", args: .object([:]), options: .init(queue: "cpu"))
        second.options.then = Chain.then(third)
        let first = Dispatcher.JobRequest(type: "fetch", args: .object(["url": .string("x")]), options: .init(then: Chain.then(second)))
        try dispatcher.enqueue(first)

        // The first attempt fails; the retry still carries the chain.
        let attempt1 = try #require(try fetchAll().first)
        try settler.settle(attempt1, .retry(JobFailure(type: "E", message: "timeout"), after: .zero), on: redis)
        try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis)
        let attempt2 = try #require(try fetchAll().first)
        let job = try attempt2.job.get()
        #expect(job.attempt == 2 && job.then != nil)

        // It succeeds with a result: the next job goes to its own queue with the result passed in.
        let nextID = try #require(try Chain.enqueueNext(after: job, result: Array(#"{"rows":3}"#.utf8), dispatcher: dispatcher))
        // Enqueued twice (the job ran again after a crash): still one.
        #expect(try Chain.enqueueNext(after: job, result: Array(#"{"rows":3}"#.utf8), dispatcher: dispatcher) == nextID)
        let next = try readyJobs("cpu")
        #expect(next.count == 1 && next[0].id == nextID && next[0].type == "transform")
        #expect(next[0].args["parent_result"] == .object(["rows": .int(3)]))
        #expect(try Chain.link(try #require(next[0].then)).type == "notify")
        // The last link has nothing after it.
        #expect(try Chain.enqueueNext(after: Job(type: "notify", queue: "default", maxAttempts: 1), result: nil, dispatcher: dispatcher) == nil)
        // A malformed link is refused at enqueue.
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "fetch", options: .init(then: .object(["args": .object([:])])))) }
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "fetch", options: .init(then: .object(["type": .string("x"), "max_attempts": .int(0)])))) }
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "fetch", options: .init(then: .object(["type": .string("x y")])))) }
        let badQueue: JSONValue = .object(["type": .string("x"), "then": .object(["type": .string("y"), "queue": .string("")])])
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "fetch", options: .init(then: badQueue))) }
    }
}
