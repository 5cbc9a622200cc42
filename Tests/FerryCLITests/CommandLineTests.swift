import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The `ferry` command as a person or script uses it.
@Suite struct CommandLineTests {
    let namespace = "cli-\(UUID().uuidString.prefix(8))"

    func ferry(_ arguments: String...) throws -> (status: Int32?, output: String) {
        try ferry(arguments)
    }

    func ferry(_ arguments: [String]) throws -> (status: Int32?, output: String) {
        let process = try ChildProcess([TestEnvironment.ferryBinary] + arguments, environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ])
        let status = process.waitForExit(timeout: 30)
        return (status, process.output)
    }

    @Test func helpAndVersion() throws {
        let help = try ferry("--help")
        #expect(help.status == 0)
        // The first word of each line under SUBCOMMANDS: (the abstract mentions some of them too).
        let listed = Set(help.output.components(separatedBy: "SUBCOMMANDS:").last?.split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) } ?? [])
        for command in ["up", "worker", "scheduler", "admin", "enqueue", "job", "stats", "dead", "jobs", "schedules", "queue", "migrate", "check"] {
            #expect(listed.contains(command), "\(command) is not listed under SUBCOMMANDS in --help:\n\(help.output)")
        }
        #expect(try ferry("--version").output.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        #expect(try ferry("worker", "--help").output.contains("--shutdown-timeout"))
    }

    @Test func enqueuePrintsIdsAndStatsPrintsTheDocumentedJSON() throws {
        let single = try ferry("enqueue", "ferry.noop", "--args", #"{"n": 1}"#)
        #expect(single.status == 0)
        #expect(single.output.trimmingCharacters(in: .whitespacesAndNewlines).count == 32)
        let bulk = try ferry("enqueue", "ferry.noop", "--count", "25", "--queue", "low")
        #expect(bulk.output.split(separator: "\n").count == 25)
        let later = try ferry("enqueue", "ferry.noop", "--in", "1h")
        #expect(later.status == 0)

        let stats = try ferry("stats", "--json")
        #expect(stats.status == 0)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(stats.output.utf8))
        #expect(json["queues"]?["default"]?["ready"] == .int(1))
        #expect(json["queues"]?["default"]?["scheduled"] == .int(1))
        #expect(json["queues"]?["low"]?["ready"] == .int(25))
        for field in ["in_flight", "dead", "latency_s"] { #expect(json["queues"]?["low"]?[field] != nil, "\(field)") }
        #expect(json["processed"] == .int(0))
        #expect(json["failed"] == .int(0))
        #expect(json["workers"] == .int(0))
    }

    @Test func badInputGetsAClearMessageAndAFailureStatus() throws {
        let badJSON = try ferry("enqueue", "ferry.noop", "--args", "{oops")
        #expect(badJSON.status != 0)
        #expect(badJSON.output.contains("--args is not valid JSON"))
        let notObject = try ferry("enqueue", "ferry.noop", "--args", "[1]")
        #expect(notObject.status != 0)
        #expect(notObject.output.contains("must be a JSON object"))
        let badQueues = try ferry("worker", "--queues", "a:zero")
        #expect(badQueues.status != 0)
        #expect(badQueues.output.contains("the weight of a must be a whole number"))
        for command in ["worker", "up"] {
            let badCelery = try ferry(command, "--celery-queues", "celery,bad queue")
            #expect(badCelery.status == 64 && badCelery.output.contains("Celery queue 'bad queue' cannot be taken"), "\(command): \(badCelery.output)")
        }
        // A type no handler is registered for is refused with the closest known type; another
        // fleet's type goes through when the caller says so.
        let typo = try ferry("enqueue", "ferry.nop")
        #expect(typo.status == 1, "\(typo.output)")
        #expect(typo.output.contains("no job type 'ferry.nop' is registered (did you mean 'ferry.noop'?); known types: ") && typo.output.contains("--allow-unknown"), "\(typo.output)")
        #expect(!typo.output.contains("Usage:"), "\(typo.output)")
        let foreign = try ferry("enqueue", "billing.invoice", "--allow-unknown")
        #expect(foreign.status == 0 && foreign.output.trimmingCharacters(in: .whitespacesAndNewlines).count == 32, "\(foreign.output)")
        let colonQueue = try ferry("enqueue", "ferry.noop", "--queue", "orders:high")
        #expect(colonQueue.status != 0)
        #expect(colonQueue.output.contains("not a valid queue name"), "\(colonQueue.output)")
        // Absurd numbers: a clear message and a failure status, never a crash (status 1, not a signal).
        for arguments in [["--in", "1e300s"], ["--in=-5s"], ["--timeout", "1e300s"], ["--at", "+275760-09-13T00:00:00Z"]] {
            let absurd = try ferry(["enqueue", "ferry.noop"] + arguments)
            #expect(absurd.status != nil && absurd.status! > 0 && absurd.status! < 128, "\(arguments): \(absurd.output)")
            #expect(absurd.output.contains("--in must be") || absurd.output.contains("--timeout must be") || absurd.output.contains("run_at must be") || absurd.output.contains("--at must be"), "\(arguments): \(absurd.output)")
        }
        let noRedis = try ChildProcess([TestEnvironment.ferryBinary, "stats"], environment: ["FERRY_REDIS_URL": "redis://:pw-secret@127.0.0.1:1"])
        #expect(noRedis.waitForExit(timeout: 30) != 0)
        #expect(noRedis.output.contains("cannot connect to Redis at 127.0.0.1:1"))
        #expect(!noRedis.output.contains("pw-secret"))
    }

    @Test func deadJobsCanBeRetriedAndDeletedFromTheTerminal() throws {
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        try dispatcher.enqueue(batch: [.init(type: "a"), .init(type: "b"), .init(type: "c")])
        let fetcher = Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0)))
        for job in try fetcher.fetch(from: "default", limit: 3, on: redis) {
            try Settler(keys: keys).settle(job, .bury(JobFailure(type: "Boom", message: "kaput")), on: redis)
        }
        let list = try ferry("dead", "list", "--json")
        let lines = list.output.split(separator: "\n")
        #expect(lines.count == 3)
        let first = try JSONDecoder().decode(JSONValue.self, from: Data(lines[0].utf8))
        #expect(first["error"] == .string("kaput"))
        let id = try #require(first["id"]?.string)
        #expect(try ferry("dead", "retry", id).status == 0)
        #expect(try ferry("dead", "retry", "no-such-id").status != 0)
        let remaining = try QueueAdmin(keys: keys).dead.jobs(on: redis)
        #expect(remaining.count == 2)
        #expect(try ferry("dead", "delete", remaining[0].id).status == 0)
        #expect(try ferry("dead", "retry", "--all").output.contains("retried 1 jobs"))
        #expect(try QueueAdmin(keys: keys).dead.jobs(on: redis).isEmpty)
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]?.ready == 2)
    }
}
