import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The id index (`ns:{q}:ids`) follows every job into and out of the scheduled and dead sets, so
/// lookups by id read one hash field and one score's members instead of whole sets.
@Suite struct IdIndexTests {
    let keys = QueueKeyspace(namespace: "index-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let admin: QueueAdmin
    let settler: Settler

    init() throws {
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        redis = try RedisConnection(configuration: configuration)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: configuration, capacity: 1), keys: keys)
        admin = QueueAdmin(keys: keys)
        settler = Settler(keys: keys)
    }

    func indexSize(_ queue: String = "default") throws -> Int { try redis.command("HLEN", .string(keys.ids(queue))).int ?? 0 }

    func fetchAll(_ limit: Int = 1000) throws -> [FetchedJob] {
        try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: limit, on: redis)
    }

    @Test func everyWayIntoAndOutOfTheScheduledSetKeepsTheIndex() throws {
        let later = Date().addingTimeInterval(600)
        let single = try dispatcher.enqueue(.init(type: "a", options: .init(runAt: later)))
        let batch = try dispatcher.enqueue(batch: [.init(type: "b", options: .init(runAt: later)), .init(type: "c")])
        let unique = try dispatcher.enqueue(.init(type: "d", options: .init(runAt: later, uniqueKey: "u")))
        #expect(try indexSize() == 3)
        for id in [single, batch[0], unique] {
            guard case .scheduled(let found)? = try admin.locator.find(id: id, on: redis)?.1 else { Issue.record("\(id) not found as scheduled"); continue }
            #expect(found.job.id == id)
        }
        #expect(try admin.scheduled.run(id: single, on: redis))
        #expect(try admin.scheduled.delete(id: batch[0], on: redis))
        #expect(try indexSize() == 1)
        // Promotion when due (by the server's clock) drops the entry too.
        let member = try #require(try redis.command("ZRANGE", .string(keys.scheduled("default")), 0, 0).array?.first?.bytes)
        try redis.command("ZADD", .string(keys.scheduled("default")), "XX", "1000", .bytes(member))
        #expect(try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis) == 1)
        #expect(try indexSize() == 0)
    }

    @Test func retriesDeathsResurrectionsAndDeletionsKeepTheIndex() throws {
        let ids = try dispatcher.enqueue(batch: (0..<3).map { _ in .init(type: "t") })
        let fetched = try fetchAll()
        try settler.settle(fetched[0], .retry(JobFailure(type: "E", message: "m"), after: .seconds(600)), on: redis)
        try settler.settle(fetched[1], .bury(JobFailure(type: "E", message: "m")), on: redis)
        try settler.settle(fetched[2], .bury(JobFailure(type: "E", message: "m")), on: redis)
        #expect(try indexSize() == 3)
        guard case .scheduled(let retry)? = try admin.locator.find(id: ids[0], on: redis)?.1 else { Issue.record("the retry was not found"); return }
        #expect(retry.isRetry)
        #expect(try admin.dead.job(id: ids[1], on: redis)?.id == ids[1])
        #expect(try admin.dead.retry(id: ids[1], on: redis))
        #expect(try admin.dead.delete(id: ids[2], on: redis))
        #expect(try admin.scheduled.delete(id: ids[0], retry: true, on: redis))
        #expect(try indexSize() == 0)
        #expect(try admin.dead.job(id: ids[2], on: redis) == nil)
    }

    @Test func aKilledRetryIsDeadAtOnceWithItsHistoryAndCountedRight() throws {
        let ids = try dispatcher.enqueue(batch: (0..<2).map { _ in .init(type: "t", options: EnqueueOptions(uniqueKey: "k-\(UUID().uuidString)")) })
        let fetched = try fetchAll()
        try settler.settle(fetched[0], .retry(JobFailure(type: "E", message: "flaky"), after: .seconds(600)), on: redis)
        try settler.settle(fetched[1], .retry(JobFailure(type: "E", message: "flaky"), after: .seconds(600)), on: redis)
        let failedBefore = try admin.queues.stats(on: redis).queues["default"]?.failed
        #expect(try admin.queues.stats(on: redis).queues["default"]?.retries == 2)
        #expect(try admin.scheduled.kill(id: ids[0], retry: true, on: redis))
        #expect(try !admin.scheduled.kill(id: ids[0], on: redis))  // gone from the retries
        let stats = try #require(try admin.queues.stats(on: redis).queues["default"])
        #expect(stats.retries == 1 && stats.scheduled == 1 && stats.dead == 1 && stats.failed == failedBefore, "\(stats)")
        let dead = try #require(try admin.dead.job(id: ids[0], on: redis))
        #expect(dead.error.type == "Killed" && dead.error.message == "killed by an admin" && dead.job?.error?.message == "flaky")
        guard case .dead? = try admin.locator.find(id: ids[0], on: redis)?.1 else { Issue.record("the index does not point at the dead set"); return }
        #expect(try indexSize() == 2)
    }

    @Test func trimmingAndClearingDropTheirEntries() throws {
        let small = Settler(keys: keys, deadSet: DeadSetPolicy(capacity: 2))
        try dispatcher.enqueue(batch: (0..<5).map { _ in .init(type: "t") })
        let fetched = try fetchAll()
        for job in fetched { try small.settle(job, .bury(JobFailure(type: "E", message: "m")), on: redis) }
        #expect(try indexSize() == 2)
        #expect(try admin.dead.job(id: try fetched[4].job.get().id, on: redis) != nil)
        #expect(try admin.dead.job(id: try fetched[0].job.get().id, on: redis) == nil)
        try dispatcher.enqueue(batch: (0..<3).map { _ in .init(type: "t", options: .init(runAt: Date().addingTimeInterval(600))) })
        #expect(try indexSize() == 5)
        #expect(try admin.queues.clear("default", on: redis) == 3)
        #expect(try indexSize() == 2)  // the dead set's entries stay
    }

    @Test func pagesOfRetriesAndDelayedJobsAreCountedAndReadOnlyAsFarAsNeeded() throws {
        try dispatcher.enqueue(batch: (0..<7).map { index in .init(type: "later", options: .init(runAt: Date().addingTimeInterval(Double(600 + index)))) })
        try dispatcher.enqueue(batch: (0..<5).map { _ in .init(type: "t") })
        for (index, job) in try fetchAll().enumerated() {
            try settler.settle(job, .retry(JobFailure(type: "E", message: "m"), after: .seconds(Int64(300 + index))), on: redis)
        }
        let retries = try admin.scheduled.page(retries: true, offset: 0, limit: 3, on: redis)
        #expect(retries.total == 5)
        #expect(retries.jobs.count == 3 && retries.jobs.allSatisfy(\.isRetry))
        #expect(retries.jobs.map(\.runAt) == retries.jobs.map(\.runAt).sorted())
        let delayed = try admin.scheduled.page(retries: false, offset: 5, limit: 5, on: redis)
        #expect(delayed.total == 7)
        #expect(delayed.jobs.count == 2 && delayed.jobs.allSatisfy { !$0.isRetry })
        // Running a retry now, deleting one and promoting the rest keep the counter right.
        #expect(try admin.scheduled.runNow(retries.jobs[0], on: redis))
        #expect(try admin.scheduled.delete(retries.jobs[1], on: redis))
        #expect(try admin.scheduled.page(retries: true, offset: 0, limit: 10, on: redis).total == 3)
        // Everything comes due (by the server's clock): promotion counts the retries out.
        for member in try redis.command("ZRANGE", .string(keys.scheduled("default")), 0, -1).array ?? [] {
            try redis.command("ZADD", .string(keys.scheduled("default")), "XX", "1000", .bytes(member.bytes ?? []))
        }
        #expect(try ScheduledPromoter(keys: keys).promoteDue(in: ["default"], on: redis) == 10)
        #expect(try admin.scheduled.page(retries: true, offset: 0, limit: 10, on: redis).total == 0)
        #expect(try admin.scheduled.page(retries: false, offset: 0, limit: 10, on: redis).total == 0)
        #expect(try indexSize() == 0)
    }

    @Test func pagesOfTheDeadSetMergeQueuesNewestFirst() throws {
        for queue in ["q1", "q2"] {
            try dispatcher.enqueue(batch: (0..<30).map { _ in .init(type: "t", options: .init(queue: queue)) })
            for job in try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: queue, limit: 30, on: redis) {
                try settler.settle(job, .bury(JobFailure(type: "E", message: queue)), on: redis)
            }
        }
        let everything = try admin.dead.jobs(limit: 100, on: redis)
        #expect(everything.count == 60)
        let first = try admin.dead.page(offset: 0, limit: 25, on: redis)
        let second = try admin.dead.page(offset: 25, limit: 25, on: redis)
        let third = try admin.dead.page(offset: 50, limit: 25, on: redis)
        #expect(first.total == 60 && third.jobs.count == 10)
        #expect((first.jobs + second.jobs + third.jobs).map(\.id) == everything.map(\.id))
        #expect(try admin.dead.page(queue: "q2", offset: 0, limit: 100, on: redis).jobs.allSatisfy { $0.queue == "q2" })
    }
}
