import ArgumentParser
import FerryQueue
import FerryRedis
import FerryWorker
import Foundation

/// `ferry job ID`: where a job is, or how it ended.
struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Show where a job is (running, ready, scheduled, retrying, dead) or how it ended, as JSON.",
        discussion: """
            A finished job shows its result (when its handler handed one back) or its error, for as long
            as the type's result_ttl keeps it (24h by default). --wait blocks until the job finishes or
            the time is up; the exit status is then 0 for a success, 1 for a dead job, 2 for a timeout;
            3 when there is no such job.
            """
    )

    @Argument(help: "The job's id, as printed by ferry enqueue.")
    var id: String

    @Option(help: "Wait up to this long for the job to finish: 30s, 5m.")
    var wait: String?

    @Option(help: "The job's queue, when waiting for a job that is not enqueued yet (default: where it is now, or default).")
    var queue: String?

    func run() throws {
        let environment = FerryEnvironment()
        let timeout: Duration?
        if let wait {
            guard let duration = JobSettingsFile.parseDuration(wait), duration >= .zero else {
                throw ValidationError("--wait must be a duration like 30s or 5m, got '\(wait)'")
            }
            timeout = duration
        } else {
            timeout = nil
        }
        let redis = try RedisConnection(configuration: try environment.redisConfiguration())
        try Self.show(id: id, queue: queue, wait: timeout, keys: environment.keys, on: redis)
    }

    /// Prints the job's state as JSON; with `wait`, first waits for it to finish.
    static func show(id: String, queue: String?, wait: Duration?, keys: QueueKeyspace, on redis: RedisConnection) throws {
        let results = JobResults(keys: keys)
        var found = try QueueAdmin(keys: keys).locator.find(id: id, on: redis)
        if let wait, (try results.find(id: id, on: redis)) == nil {
            let queue = queue ?? found?.0?.queue ?? "default"
            guard try results.wait(id: id, queue: queue, timeout: wait, on: redis) != nil else {
                print(try render(["id": .string(id), "state": .string("waiting"), "message": .string("not finished after \(wait)")]))
                throw ExitCode(2)
            }
            found = nil
        }
        // A job still (or again) queued, scheduled or in the dead set shows where it is; a finished
        // one, its record. A job that has a record but is still listed as running has finished:
        // its worker writes the record first and acknowledges it with its next round trip.
        var finished: (queue: String, result: JobResult)?
        if found == nil || found.map({ if case .running = $0.1 { true } else { false } }) == true {
            finished = try results.find(id: id, on: redis)
        }
        if let (queue, result) = finished {
            var output: [String: JSONValue] = [
                "id": .string(id), "queue": .string(queue), "state": .string(result.status.rawValue), "finished_at": .string(Self.time(result.finishedAt)),
            ]
            if let type = result.type { output["type"] = .string(type) }
            if let args = result.args { output["args"] = args }
            if let value = result.value { output["result"] = value }
            if let error = result.error { output["error"] = .object(["type": .string(error.type), "message": .string(error.message)]) }
            print(try render(output))
            if result.status == .dead { throw ExitCode(1) }
            return
        }
        guard let (job, location) = found else {
            FileHandle.standardError.write(Data("Error: no job \(id): never enqueued here, or finished without a result (results are kept for the type's result_ttl)\n".utf8))
            throw ExitCode(3)
        }
        var output: [String: JSONValue] = ["id": .string(id)]
        switch location {
        case .running(let worker): output["state"] = .string("running"); output["worker"] = .string(worker)
        case .ready: output["state"] = .string("ready")
        case .scheduled(let scheduled): output["state"] = .string(scheduled.isRetry ? "retry" : "scheduled"); output["run_at"] = .string(Self.time(scheduled.runAt))
        case .dead(let dead): output["state"] = .string("dead"); output["error"] = .object(["type": .string(dead.error.type), "message": .string(dead.error.message)])
        }
        if let job, let data = try? JSONEncoder().encode(job), let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
            output["job"] = Self.readableTimes(value)
        }
        print(try render(output))
        if case .dead = location { throw ExitCode(1) }
    }

    /// A time (Unix seconds) as ISO 8601 in UTC, with milliseconds.
    static func time(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e11 else { return String(seconds) }
        return Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// The job's times (`created_at`, `enqueued_at`, `run_at`, and each failure's `at`) as ISO 8601.
    static func readableTimes(_ value: JSONValue) -> JSONValue {
        guard case .object(var fields) = value else { return value }
        for (name, field) in fields {
            switch (name, field) {
            case ("created_at", _), ("enqueued_at", _), ("run_at", _), ("at", _), ("died_at", _):
                if let seconds = field.double { fields[name] = .string(time(seconds)) }
            case ("error", _): fields[name] = readableTimes(field)
            case ("failures", .array(let failures)): fields[name] = .array(failures.map(readableTimes))
            default: break
            }
        }
        return .object(fields)
    }

    static func render(_ object: [String: JSONValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(JSONValue.object(object)), as: UTF8.self)
    }
}
