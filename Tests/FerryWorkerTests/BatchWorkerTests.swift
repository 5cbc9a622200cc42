import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Batches and chains with real worker processes: callbacks once under kill -9, nested
/// additions from running jobs, a chain through a retry.
@Suite(.serialized) struct BatchWorkerTests {
    let namespace = "btest-\(UUID().uuidString.prefix(8))"
    let keys: QueueKeyspace
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let jobsDirectory: String

    init() throws {
        keys = QueueKeyspace(namespace: namespace)
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        jobsDirectory = NSTemporaryDirectory() + "ferry-batch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        // Quick retries for ferry.flaky.
        try "backoff: {base: 100ms, max: 1s, jitter: 0}\n".write(toFile: jobsDirectory + "/ferry.flaky.yml", atomically: true, encoding: .utf8)
    }

    func worker(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(
            [TestEnvironment.ferryBinary, "worker", "--heartbeat", "0.3", "--heartbeat-ttl", "1.5", "--jobs-dir", jobsDirectory] + defaultQueue(unless: arguments) + arguments,
            environment: ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_LOG_LEVEL": "info"]
        )
    }

    func record(_ key: String) -> Dispatcher.JobRequest {
        .init(type: "ferry.record", args: .object(["key": .string(key)]))
    }

    func members(_ key: String) throws -> Int { try redis.command("SCARD", .string(key)).int ?? 0 }

    @Test func aTenThousandJobBatchFiresEachCallbackOnceThroughKill9s() throws {
        let work = "\(namespace):work", complete = "\(namespace):complete", success = "\(namespace):success"
        let (batch, ids) = try Batches(dispatcher: dispatcher).enqueue(BatchRequest(
            jobs: (0..<10_000).map { _ in .init(type: "ferry.record", args: .object(["key": .string(work), "ms": .int(1)])) },
            description: "kill -9 trial", onComplete: record(complete), onSuccess: record(success)
        ))
        #expect(ids.count == 10_000)
        let process = try worker(["--processes", "2", "--concurrency", "8"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        // Kill -9 a busy worker process three times while the batch runs.
        for round in 1...3 {
            #expect(try eventually(timeout: 30) { try members(work) > 2000 * round }, "\(process.output.suffix(2000))")
            let workers = try WorkerRegistry(keys: keys).liveWorkers(on: redis)
            let victim = try #require(workers.first { !$0.busy.isEmpty } ?? workers.first)
            kill(pid_t(victim.pid), SIGKILL)
            #expect(eventually(timeout: 5) { process.output.components(separatedBy: "recovered the jobs of an exited worker process").count > round },
                    "\(process.output.suffix(2000))")
        }
        let done = try eventually(timeout: 120) { try Batches(dispatcher: dispatcher).status(id: batch, on: redis)?.completedAt != nil }
        let status = try #require(try Batches(dispatcher: dispatcher).status(id: batch, on: redis))
        #expect(done, "\(status)")
        #expect(status.total == 10_000 && status.succeeded == 10_000 && status.pending == 0 && status.dead == 0, "\(status)")
        #expect(try members(work) == 10_000)
        // Each callback was enqueued once: one job id each, whatever ran twice around the kills.
        #expect(try eventually(timeout: 30) { try members(complete) == 1 && members(success) == 1 })
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try members(complete) == 1 && members(success) == 1)

        // From the terminal.
        let shown = try ChildProcess([TestEnvironment.ferryBinary, "batch", batch, "--wait", "5s"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ])
        #expect(shown.waitForExit(timeout: 30) == 0, "\(shown.output)")
        #expect(shown.output.contains(#""succeeded" : 10000"#) && shown.output.contains(#""on_success""#), "\(shown.output)")
    }

    @Test func runningJobsAddToTheirBatchAndTheCallbackWaitsForAll() throws {
        let work = "\(namespace):tree", success = "\(namespace):tree-done"
        let (batch, _) = try Batches(dispatcher: dispatcher).enqueue(BatchRequest(
            jobs: (0..<3).map { _ in .init(type: "ferry.fanout", args: .object(["key": .string(work), "children": .int(5)])) },
            onSuccess: record(success)
        ))
        let process = try worker(["--concurrency", "4"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try members(success) == 1 }, "\(process.output.suffix(2000))")
        // The callback came after every parent and child: 3 + 15 recorded.
        #expect(try members(work) == 18)
        let status = try #require(try Batches(dispatcher: dispatcher).status(id: batch, on: redis))
        #expect(status.total == 18 && status.succeeded == 18)
    }

    @Test func aChainGoesOnAfterItsFirstJobIsRetriedWithTheResultPassedIn() throws {
        let last = "\(namespace):chain-end"
        var second = Dispatcher.JobRequest(type: "ferry.echo", args: .object(["step": .int(2)]))
        second.options.then = Chain.then(record(last))
        let first = try dispatcher.enqueue(.init(type: "ferry.flaky", args: .object(["fail": .int(1)]), options: .init(then: Chain.then(second))))
        let process = try worker(["--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try members(last) == 1 }, "\(process.output.suffix(2000))")
        // The first job failed once and succeeded on its second attempt.
        let firstResult = try #require(try JobResults(keys: keys).result(id: first, queue: "default", on: redis))
        #expect(firstResult.value?["attempt"] == .int(2))
        // The second got the first's result as parent_result and handed it on in its own result.
        let records = (try redis.command("KEYS", .string(keys.result("default", id: "*"))).array ?? []).compactMap(\.string)
        let echoed = try records.compactMap { key -> JSONValue? in
            let id = String(key.split(separator: ":").last!)
            return try JobResults(keys: keys).result(id: id, queue: "default", on: redis)?.value?["echo"]
        }
        #expect(echoed.count == 1 && echoed.first?["parent_result"]?["attempt"] == .int(2) && echoed.first?["step"] == .int(2), "\(echoed)")
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).failed == 1)
    }
}
