import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Results handed back by handlers, read and waited for by the API tier, with real workers.
@Suite(.serialized) struct ResultsTests {
    let namespace = "restest-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let redis: RedisConnection
    let jobsDirectory: String

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        jobsDirectory = NSTemporaryDirectory() + "ferry-results-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        try "result_ttl: 5m\n".write(toFile: jobsDirectory + "/ferry.echo.yml", atomically: true, encoding: .utf8)
    }

    func ferry(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess([TestEnvironment.ferryBinary] + arguments, environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ])
    }

    @Test func aResultIsKeptForItsTTLAndWaitedForWithoutPolling() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        let echo = try dispatcher.enqueue(.init(type: "ferry.echo", args: .object(["a": .int(1), "b": .string("ü")])))
        let failing = try dispatcher.enqueue(.init(type: "ferry.fail", args: .object(["message": .string("no luck")]), options: .init(maxAttempts: 1)))
        let plain = try dispatcher.enqueue(.init(type: "ferry.noop"))
        let results = JobResults(keys: keys)
        // Nothing yet: a short wait ends empty-handed.
        #expect(try results.wait(id: echo, queue: "default", timeout: .milliseconds(200), on: redis) == nil)

        let worker = try ferry(["worker", "--jobs-dir", jobsDirectory])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let waiter = try RedisConnection(url: TestEnvironment.redisURL)
        let succeeded = try #require(try results.wait(id: echo, queue: "default", timeout: .seconds(30), on: waiter), "\(worker.output.suffix(2000))")
        #expect(succeeded.status == .succeeded)
        #expect(succeeded.value == .object(["echo": .object(["a": .int(1), "b": .string("ü")])]))
        // Kept for the type's result_ttl (5m here), not the 24 h default.
        let ttl = try redis.command("PTTL", .string(keys.result("default", id: echo))).int ?? -1
        #expect(ttl > 0 && ttl <= 300_000, "PTTL \(ttl)")

        // A dead job's record carries its error.
        let dead = try #require(try results.wait(id: failing, queue: "default", timeout: .seconds(30), on: waiter))
        #expect(dead.status == .dead)
        #expect(dead.error?.message.contains("no luck") == true, "\(String(describing: dead.error))")
        // A job that hands nothing back leaves no record.
        #expect(try eventually(timeout: 20) { try QueueAdmin(keys: keys).queues.stats(on: redis).processed >= 2 })
        #expect(try results.result(id: plain, queue: "default", on: redis) == nil)

        // From the terminal: ferry job, and ferry enqueue --wait. The record is written before the
        // acknowledgement, so until that is applied `ferry job` rightly says "running": wait for it.
        let locator = QueueAdmin(keys: keys).locator
        #expect(try eventually(timeout: 30) { try locator.find(id: echo, on: redis) == nil })
        #expect(try eventually(timeout: 30) {
            if case .dead? = try locator.find(id: failing, on: redis)?.1 { return true }
            return false
        })
        let shown = try ferry(["job", echo])
        #expect(shown.waitForExit(timeout: 30) == 0, "\(shown.output)")
        #expect(shown.output.contains(#""state" : "succeeded""#) && shown.output.contains(#""echo""#), "\(shown.output)")
        #expect(shown.output.contains(#""type" : "ferry.echo""#) && shown.output.contains(#""args" : {"#), "a finished job's record names its type and arguments: \(shown.output)")
        let deadShown = try ferry(["job", failing])
        #expect(deadShown.waitForExit(timeout: 30) == 1, "\(deadShown.output)")
        // Times as a person (and any JSON reader) reads them: ISO 8601 in UTC, not Unix seconds.
        for output in [shown.output, deadShown.output] {
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(output.utf8))
            let times = [json["finished_at"], json["job"]?["created_at"], json["job"]?["enqueued_at"], json["job"]?["error"]?["at"]].compactMap { $0 }
            #expect(!times.isEmpty && times.allSatisfy { $0.string.map { (try? Date($0, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) != nil } ?? false }, "\(output)")
        }
        let waited = try ferry(["enqueue", "ferry.echo", "--args", #"{"n": 7}"#, "--wait", "30s", "--jobs-dir", jobsDirectory])
        #expect(waited.waitForExit(timeout: 60) == 0, "\(waited.output)")
        #expect(waited.output.contains(#""n" : 7"#), "\(waited.output)")
        let timedOut = try ferry(["job", "never-enqueued", "--wait", "0.2s"])
        #expect(timedOut.waitForExit(timeout: 30) == 2, "\(timedOut.output)")
        let unknown = try ferry(["job", "never-enqueued"])
        #expect(unknown.waitForExit(timeout: 30) == 3 && unknown.output.contains("no job never-enqueued") && !unknown.output.contains("Usage:"), "\(unknown.output)")
    }

    @Test func aDeadJobRetriedIsWaitedForAnewNotReportedDeadByItsOldRecord() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        let id = try dispatcher.enqueue(.init(type: "ferry.fail", args: ["message": "down"], options: .init(maxAttempts: 1)))
        let results = JobResults(keys: keys)
        let admin = QueueAdmin(keys: keys)
        var firstDeath = 0.0
        do {
            let worker = try ferry(["worker", "--jobs-dir", jobsDirectory])
            defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
            let dead = try #require(try results.wait(id: id, queue: "default", timeout: .seconds(30), on: try RedisConnection(url: TestEnvironment.redisURL)))
            #expect(dead.status == .dead)
            firstDeath = dead.finishedAt
            #expect(try eventually(timeout: 20) { try admin.dead.job(id: id, on: redis) != nil })
        }
        #expect(try admin.dead.retry(id: id, on: redis))
        // The record of its death went with it: a waiter now waits for this run.
        #expect(try results.result(id: id, queue: "default", on: redis) == nil)
        #expect(try results.wait(id: id, queue: "default", timeout: .milliseconds(200), on: redis) == nil)
        let pending = try ferry(["job", id])
        #expect(pending.waitForExit(timeout: 30) == 0 && pending.output.contains(#""state" : "ready""#), "\(pending.output)")

        let worker = try ferry(["worker", "--jobs-dir", jobsDirectory])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let again = try #require(try results.wait(id: id, queue: "default", timeout: .seconds(30), on: try RedisConnection(url: TestEnvironment.redisURL)))
        #expect(again.status == .dead && again.finishedAt > firstDeath)
    }

    @Test func aJobThatHandsNothingBackIsSeenToFinishWhenItKeepsARecord() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys)
        let kept = try dispatcher.enqueue(.init(type: "ferry.noop", options: .init(keepRecord: true)))
        let plain = try dispatcher.enqueue(.init(type: "ferry.noop"))
        let worker = try ferry(["worker", "--jobs-dir", jobsDirectory])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }

        let results = JobResults(keys: keys)
        let record = try #require(try results.wait(id: kept, queue: "default", timeout: .seconds(30), on: try RedisConnection(url: TestEnvironment.redisURL)))
        #expect(record.status == .succeeded && record.value == .null && record.type == "ferry.noop")
        #expect(try eventually(timeout: 20) { try QueueAdmin(keys: keys).queues.stats(on: redis).processed >= 2 })
        #expect(try results.result(id: plain, queue: "default", on: redis) == nil)

        // ferry enqueue --wait asks for a record: it sees a job without a result end.
        let waited = try ferry(["enqueue", "ferry.noop", "--wait", "30s"])
        #expect(waited.waitForExit(timeout: 60) == 0, "\(waited.output)")
        #expect(waited.output.contains(#""state" : "succeeded""#), "\(waited.output)")
        // So does --keep-record, for a later ferry job ID.
        let enqueued = try ferry(["enqueue", "ferry.noop", "--keep-record"])
        #expect(enqueued.waitForExit(timeout: 30) == 0, "\(enqueued.output)")
        let id = enqueued.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let shown = try ferry(["job", id, "--wait", "30s"])
        #expect(shown.waitForExit(timeout: 60) == 0 && shown.output.contains(#""state" : "succeeded""#), "\(shown.output)")
    }
}
