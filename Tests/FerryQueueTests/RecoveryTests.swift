import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Recovery of dead workers' jobs, crash accounting, unique keys and the dead set's limits,
/// against the test Redis: each path ends with the state converged.
@Suite struct RecoveryTests {
    let keys = QueueKeyspace(namespace: "recovery-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let registry: WorkerRegistry
    let settler: Settler

    init() throws {
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        redis = try RedisConnection(configuration: configuration)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: configuration, capacity: 1), keys: keys)
        registry = WorkerRegistry(keys: keys)
        settler = Settler(keys: keys)
    }

    func slot(_ worker: String, _ index: Int = 0) -> Consumer { Consumer(worker: worker, lane: .slot(index)) }

    func register(_ worker: String, slots: Int = 1, queues: [String] = ["default"]) throws {
        let consumers = (0..<slots).map { slot(worker, $0) } + [Consumer(worker: worker, lane: .isolated)]
        try registry.register(worker: worker, consumers: consumers, queues: queues, on: redis)
        try registry.beat(WorkerInfo(id: worker, host: "h", pid: 1, queues: queues, concurrency: slots, startedAt: 0), ttl: .seconds(30), on: redis)
    }

    func readyIDs(_ queue: String = "default") throws -> [String] {
        // In the order they will be taken (from the right).
        try (redis.command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).reversed().map { try Job.decode($0.bytes!).id }
    }

    func crashes(_ id: String) throws -> Int? {
        try redis.command("HGET", .string(keys.crashes("default")), .string(id)).int
    }

    @Test func unstartedJobsGoBackUnblamedAndTheRunningOneBecomesASuspect() throws {
        let ids = try dispatcher.enqueue(batch: (0..<4).map { _ in .init(type: "ferry.noop") })
        try register("w1")
        let fetched = try Fetcher(keys: keys, consumer: slot("w1")).fetch(from: "default", limit: 4, on: redis)
        #expect(fetched.count == 4)
        #expect(try settler.settle(fetched[0], .done, on: redis).applied)   // finished and acknowledged
        // w1 dies running ids[1]; ids[2] and ids[3] never started.
        let recovery = try registry.recover(worker: "w1", crashLimit: 3, deadSet: DeadSetPolicy(), on: redis)
        #expect(recovery.restored == 3)
        #expect(recovery.buried == 0)
        #expect(try readyIDs() == [ids[1], ids[2], ids[3]])
        #expect(try crashes(ids[1]) == 0)       // a suspect, not yet blamed
        #expect(try crashes(ids[2]) == nil)
        #expect(try crashes(ids[3]) == nil)
        // Recovering again finds nothing; the worker and its lists are forgotten.
        #expect(try registry.recover(worker: "w1", crashLimit: 3, deadSet: DeadSetPolicy(), on: redis).restored == 0)
        #expect(try redis.command("EXISTS", .string(keys.consumers("w1"))).int == 0)
        #expect(try redis.command("ZSCORE", .string(keys.workers), "w1").isNull)

        // The suspect is flagged when fetched; acknowledging it clears its record.
        let again = try Fetcher(keys: keys, consumer: slot("w2")).fetch(from: "default", limit: 3, on: redis)
        #expect(again.map(\.isSuspect) == [true, false, false])
        for job in again { try settler.settle(job, .done, on: redis) }
        #expect(try crashes(ids[1]) == nil)
        #expect(try redis.command("HLEN", .string(keys.crashes("default"))).int == 0)
    }

    @Test func jobsRunningTogetherAllBecomeSuspectsAndTheWaitingOnesGoBackUnblamed() throws {
        let ids = try dispatcher.enqueue(batch: (0..<6).map { _ in .init(type: "ferry.noop") })
        try register("w1", slots: 2)
        let together = try Fetcher(keys: keys, consumer: slot("w1", 1)).fetch(from: "default", limit: 4, on: redis)
        let alone = try Fetcher(keys: keys, consumer: slot("w1", 0)).fetch(from: "default", limit: 2, on: redis)
        #expect(together.count == 4 && alone.count == 2)
        // Slot 1 was running ids[0…2] at once and had finished ids[1]; ids[3] waited to run
        // after them. Slot 0 ran one at a time.
        let notes = DeadWorkerNotes(finished: [ids[1]], runningTogether: [1: [ids[0], ids[1], ids[2]]])
        let recovery = try registry.recover(worker: "w1", crashLimit: 3, deadSet: DeadSetPolicy(), notes: notes, on: redis)
        #expect(recovery.restored == 5)
        #expect(recovery.buried == 0)
        #expect(Set(try readyIDs()) == [ids[0], ids[2], ids[3], ids[4], ids[5]])
        #expect(try crashes(ids[0]) == 0)  // the unfinished jobs that ran together are suspects
        #expect(try crashes(ids[2]) == 0)
        #expect(try crashes(ids[3]) == nil)  // it was waiting
        #expect(try crashes(ids[1]) == nil)  // finished: done, not back
        #expect(try crashes(ids[4]) == 0)  // slot 0: only its running (rightmost) job
        #expect(try crashes(ids[5]) == nil)
        #expect(try redis.command("GET", .string(keys.processed("default"))).int == 1)
        #expect(try redis.command("LLEN", .string(keys.inflight("default", consumer: slot("w1", 1)))).int == 0)
    }

    @Test func onlyAJobThatCrashesItsWorkerAloneIsCountedAndItGoesDeadAtTheLimit() throws {
        let poison = try dispatcher.enqueue(.init(type: "ferry.exit", options: .init(uniqueKey: "poison")))
        let bystander = try dispatcher.enqueue(.init(type: "ferry.sleep"))
        // First death: both were running side by side on two slots: both become suspects.
        try register("w0", slots: 2)
        let first = try Fetcher(keys: keys, consumer: slot("w0", 0)).fetch(from: "default", limit: 1, on: redis)
        let second = try Fetcher(keys: keys, consumer: slot("w0", 1)).fetch(from: "default", limit: 1, on: redis)
        #expect(first.count == 1 && second.count == 1)
        try registry.recover(worker: "w0", crashLimit: 3, deadSet: DeadSetPolicy(), on: redis)
        #expect(try crashes(poison) == 0)
        #expect(try crashes(bystander) == 0)

        // Each suspect then runs alone: the bystander succeeds and is cleared.
        for round in 1...3 {
            let worker = "w\(round)"
            try register(worker, slots: 2)
            let fetcher = Fetcher(keys: keys, consumer: slot(worker))
            for job in try fetcher.fetch(from: "default", limit: 2, on: redis) {
                #expect(job.isSuspect || round > 1)
                if try job.job.get().id == bystander {
                    try settler.settle(job, .done, on: redis)
                    continue
                }
                // The poison job runs alone in the isolation lane, and takes the process down.
                _ = try fetcher.isolate(job, on: redis)
            }
            let recovery = try registry.recover(worker: worker, crashLimit: 3, deadSet: DeadSetPolicy(), on: redis)
            #expect(recovery.buried == (round == 3 ? 1 : 0), "round \(round)")
        }
        #expect(try crashes(bystander) == nil)
        #expect(try crashes(poison) == nil)
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == poison)
        #expect(dead.error.type == "WorkerCrashed")
        #expect(dead.error.message.contains("3 times"))
        // Its unique key is free again.
        #expect(try redis.command("EXISTS", .string(keys.unique("default", key: "poison"))).int == 0)
        #expect(try dispatcher.enqueue(.init(type: "ferry.exit", options: .init(uniqueKey: "poison"))) != poison)
    }

    @Test func aPayloadWithABadIDIsPreservedByRecovery() throws {
        try redis.command("SADD", .string(keys.queues), "default")
        let payloads = [#"{"id":null,"type":"t"}"#, #"{"id":true,"type":"t"}"#, #"{"id":{"a":1},"type":"t"}"#, "not json", #"{"id":7}"#]
        for payload in payloads { try redis.command("LPUSH", .string(keys.ready("default")), .string(payload)) }
        for (index, _) in payloads.enumerated() {
            let worker = "bad\(index)"
            try register(worker)
            #expect(try Fetcher(keys: keys, consumer: slot(worker)).fetch(from: "default", limit: 1, on: redis).count == 1)
            // Run in isolation mode too, the path that counts crashes by id.
            _ = try Fetcher(keys: keys, consumer: slot(worker)).requeueAll(queues: [], on: redis)
            let recovery = try registry.recover(worker: worker, crashLimit: 1, deadSet: DeadSetPolicy(), on: redis)
            #expect(recovery.restored == 1)
        }
        let left = try (redis.command("LRANGE", .string(keys.ready("default")), 0, -1).array ?? []).compactMap(\.string)
        #expect(Set(left) == Set(payloads))
    }

    @Test func aWorkerThatBeatAgainIsNotForgotten() throws {
        try register("alive")
        try dispatcher.enqueue(.init(type: "ferry.noop"))
        #expect(try Fetcher(keys: keys, consumer: slot("alive")).fetch(from: "default", limit: 1, on: redis).count == 1)
        // Not stale: nothing to do.
        #expect(try registry.staleWorkers(olderThan: .seconds(30), on: redis).isEmpty)
        #expect(try registry.recoverStale(ttl: .seconds(30), crashLimit: 3, deadSet: DeadSetPolicy(), on: redis).workers.isEmpty)
        // A recovery pass that began while it looked stale must not forget it once it beat again.
        try registry.recover(worker: "alive", crashLimit: 3, deadSet: DeadSetPolicy(), forgetUnlessBeatWithin: .seconds(30), on: redis)
        #expect(try !redis.command("ZSCORE", .string(keys.workers), "alive").isNull)
        #expect(try redis.command("EXISTS", .string(keys.consumers("alive"))).int == 1)
    }

    @Test func staleWorkersAreFoundByTheServersClock() throws {
        try register("old")
        try register("new")
        // Make "old" look like it last beat a minute ago by the server's clock.
        let time = try redis.command("TIME").array!.compactMap { $0.string.flatMap(Int64.init) }
        try redis.command("ZADD", .string(keys.workers), .string(String(time[0] * 1000 - 60_000)), "old")
        #expect(try registry.staleWorkers(olderThan: .seconds(30), on: redis) == ["old"])
        let lists = try registry.inFlightLists(ttl: .seconds(30), on: redis)
        #expect(lists.filter(\.orphaned).allSatisfy { $0.key.contains("old/") })
        #expect(lists.contains { $0.orphaned })
    }

    @Test func orphansOnAQueueMissingFromTheQueueSetAreCountedAndRecovered() throws {
        // A job written by another language straight to a queue nobody registered.
        try redis.command("LPUSH", .string(keys.ready("unlisted")), .bytes(Job(type: "ferry.noop", queue: "unlisted", maxAttempts: 3).encoded()))
        try register("gone", queues: ["unlisted"])
        #expect(try Fetcher(keys: keys, consumer: slot("gone")).fetch(from: "unlisted", limit: 1, on: redis).count == 1)
        let time = try redis.command("TIME").array!.compactMap { $0.string.flatMap(Int64.init) }
        try redis.command("ZADD", .string(keys.workers), .string(String(time[0] * 1000 - 60_000)), "gone")
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis)
        #expect(stats.queues["unlisted"]?.inFlight == 1)
        #expect(stats.queues["unlisted"]?.orphaned == 1)
        let recovery = try registry.recoverStale(ttl: .seconds(30), crashLimit: 3, deadSet: DeadSetPolicy(), on: redis)
        #expect(recovery.workers == ["gone"])
        #expect(recovery.restored == 1)
        #expect(try redis.command("LLEN", .string(keys.ready("unlisted"))).int == 1)
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["unlisted"]?.orphaned == 0)
    }

    @Test func uniqueKeysAreReleasedOnEveryPathThatEndsAJob() throws {
        let admin = QueueAdmin(keys: keys)
        func holder(_ key: String) throws -> String? { try redis.command("GET", .string(keys.unique("default", key: key))).string }
        // Bury.
        try dispatcher.enqueue(.init(type: "t", options: .init(uniqueKey: "buried")))
        let fetched = try #require(try Fetcher(keys: keys, consumer: slot("w")).fetch(from: "default", limit: 1, on: redis).first)
        try settler.settle(fetched, .bury(JobFailure(type: "Boom", message: "x")), on: redis)
        #expect(try holder("buried") == nil)
        // Deleting a scheduled job.
        try dispatcher.enqueue(.init(type: "t", options: .init(runAt: Date().addingTimeInterval(600), uniqueKey: "later")))
        #expect(try holder("later") != nil)
        let scheduled = try #require(try admin.scheduled.jobs(on: redis).first)
        #expect(try admin.scheduled.delete(scheduled, on: redis))
        #expect(try holder("later") == nil)
        // Clearing a queue.
        try dispatcher.enqueue(.init(type: "t", options: .init(uniqueKey: "waiting")))
        try dispatcher.enqueue(.init(type: "t", options: .init(runAt: Date().addingTimeInterval(600), uniqueKey: "waiting-later")))
        #expect(try admin.queues.clear("default", on: redis) == 2)
        #expect(try holder("waiting") == nil)
        #expect(try holder("waiting-later") == nil)
    }

    @Test func theDeadSetIsTrimmedBySizeAndAgeAndCountsWhatItDrops() throws {
        let small = Settler(keys: keys, deadSet: DeadSetPolicy(capacity: 3, maxAge: .seconds(3600)))
        // An ancient record, older than the max age.
        try redis.command("ZADD", .string(keys.dead("default")), "1000", #"{"died_at":1000,"error":{"type":"Old","message":"old","at":1},"job":null,"raw":"x","queue":"default"}"#)
        try dispatcher.enqueue(batch: (0..<5).map { _ in .init(type: "t") })
        var results: [Settler.Result] = []
        for job in try Fetcher(keys: keys, consumer: slot("w")).fetch(from: "default", limit: 5, on: redis) {
            results.append(try small.settle(job, .bury(JobFailure(type: "Boom", message: "x")), on: redis))
        }
        #expect(results.map(\.trimmed) == [1, 0, 0, 1, 1])
        #expect(results.map(\.deadSize) == [1, 2, 3, 3, 3])
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis)
        #expect(stats.queues["default"]?.dead == 3)
        #expect(stats.queues["default"]?.trimmed == 3)
    }
}
