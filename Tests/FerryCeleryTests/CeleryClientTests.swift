import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The real Celery client (celery 5.7.0 from PyPI, unmodified, in .ferry/celery-venv) against
/// real `ferry worker` processes taking its queue: every way a Django or FastAPI tier sends a
/// task, results read back as Celery reads them, refusals, and workers killed while taking.
@Suite(.serialized) struct CeleryClientTests {
    let namespace = "celery-\(UUID().uuidString.prefix(8))"
    let queue = "celery-\(UUID().uuidString.prefix(8).lowercased())"
    let jobsDirectory: String
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        jobsDirectory = NSTemporaryDirectory() + "ferry-celery-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        try "max_attempts: 1\n".write(toFile: jobsDirectory + "/ferry.fail.yml", atomically: true, encoding: .utf8)
        try "max_attempts: 1\n".write(toFile: jobsDirectory + "/ferry.sleep.yml", atomically: true, encoding: .utf8)
        try "celery: {name: app.tasks.record, args: [key, ms]}\n".write(toFile: jobsDirectory + "/ferry.record.yml", atomically: true, encoding: .utf8)
    }

    func worker(_ extra: [String] = [], ownProcessGroup: Bool = false) throws -> ChildProcess {
        try ChildProcess([TestEnvironment.ferryBinary, "worker", "--celery-queues", queue, "--jobs-dir", jobsDirectory, "--concurrency", "8"] + extra, environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ], ownProcessGroup: ownProcessGroup)
    }

    func client(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.celeryPython)
        process.arguments = [FileManager.default.currentDirectoryPath + "/Tests/celery/client.py", "--redis", TestEnvironment.redisURL, "--queue", queue] + arguments
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(problems.suffix(3000))")
        return text
    }

    @Test func celeryCallsRunOnFerryAndTheirResultsReadAsCelerysOwn() throws {
        let worker = try worker()
        defer { worker.signal(SIGTERM); _ = worker.waitForExit(timeout: 30) }
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(try client(["calls"]).utf8))
        let context = "\(report)\n\(worker.output.suffix(3000))"
        #expect(report["delay"] == ["echo": ["a": 1]], "\(context)")
        #expect(report["send_task"] == ["echo": ["b": "ü", "n": [1, 2.5, nil]]], "\(context)")
        #expect(report["priority"] == ["echo": ["p": 9]], "\(context)")
        #expect(report["countdown"] == ["echo": ["c": 1]] && (report["countdown_s"]?.double ?? 0) >= 1.9, "an eta is kept: \(context)")
        #expect(report["expired"] == ["raised": "TaskRevokedError", "message": .string(report["expired"]?["message"]?.string ?? ""), "status": "REVOKED"], "\(context)")
        #expect(report["positional"] == ["returned": nil] || report["positional"] == .null, "\(context)")
        #expect(report["recorded"] == 1, "positional arguments bound to the names in jobs/ferry.record.yml: \(context)")
        #expect(report["failure"]?["raised"] == "Failure" && report["failure"]?["status"] == "FAILURE", "\(context)")
        #expect(report["failure"]?["message"]?.string?.contains("no luck") == true, "\(context)")
        #expect(report["unknown"]?["raised"] == "CeleryRefused" && report["unknown"]?["message"]?.string?.contains("no.such.task") == true, "\(context)")
        #expect(report["unnamed_positional"]?["message"]?.string?.contains("2 positional arguments") == true, "\(context)")
        #expect(report["pickle"]?["message"]?.string?.contains("application/x-python-serialize") == true, "\(context)")
        #expect(report["ignored_result_stored"] == 0, "ignore_result writes no result: \(context)")
        #expect(report["many_correct"] == 1000, "\(context)")
        #expect(report["chain_middle"] == ["echo": ["y": 2, "parent_result": ["echo": ["x": 1]]]], "a chain passes results on: \(context)")
        #expect(report["chain_last"] == .null && report["chain_recorded"] == true, "an immutable signature runs with its own id: \(context)")

        // Refused messages are kept whole in the dead set of the Celery queue, with the reason.
        let dead = try QueueAdmin(keys: QueueKeyspace(namespace: namespace)).dead.jobs(queue: queue, limit: 10, on: redis)
        #expect(dead.count == 3 && dead.allSatisfy { $0.error.type == "CeleryRefused" && $0.raw.contains("\"headers\"") }, "\(dead)")
        // The Celery task id is the job id: ferry job finds a task.
        #expect(try redis.command("LLEN", .string(queue)).int == 0)
    }

    @Test func aTaskAbandonedByTheWatchdogStillReportsItsFailure() throws {
        // ferry.sleep ignores its cancellation: after the time limit and the grace the watchdog
        // gives up on it (the process is recycled), and that outcome reaches the Celery caller.
        let worker = try worker(["--timeout-grace", "1"])
        defer { worker.signal(SIGTERM); _ = worker.waitForExit(timeout: 30) }
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(try client(["hung"]).utf8))
        #expect(report["status"] == "FAILURE" && report["raised"] == "Timeout", "\(report)\n\(worker.output.suffix(3000))")
    }

    @Test func workersKilledWhileTakingCeleryTasksLoseNone() throws {
        let total = 3000
        let ids = try client(["send", String(total)]).split(separator: "\n").map(String.init)
        #expect(ids.count == total)
        let key = "celery-killed-\(queue)"
        // Supervisors and their worker processes are killed together with SIGKILL while they take
        // the queue (the first rounds) and run its tasks (20 ms each).
        for delay in [0.15, 0.2, 0.25, 0.3, 0.5, 0.8] {
            let worker = try worker(["--processes", "2"], ownProcessGroup: true)
            Thread.sleep(forTimeInterval: delay)
            kill(-worker.pid, SIGKILL)
            _ = worker.waitForExit(timeout: 10)
        }
        #expect(try redis.command("SCARD", .string(key)).int ?? 0 < total, "the kills came too late to test anything")
        let worker = try worker()
        defer { worker.signal(SIGTERM); _ = worker.waitForExit(timeout: 30) }
        let done = try eventually(timeout: 180) { try redis.command("SCARD", .string(key)).int == total }
        #expect(done, "\((try? redis.command("SCARD", .string(key)).int) ?? -1) of \(total)")
        #expect(try redis.command("LLEN", .string(queue)).int == 0)
        // Every task's result reads as Celery's: None, from a SUCCESS.
        #expect(try client(["results"], input: ids.joined(separator: "\n")).trimmingCharacters(in: .whitespacesAndNewlines) == String(total))
    }
}
