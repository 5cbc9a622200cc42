import ArgumentParser
import FerryQueue
import FerryRedis
import FerryWorker
import Foundation

/// `ferry enqueue`: put jobs on a queue from the terminal or a script.
struct Enqueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue a job and print its id.",
        discussion: """
            Examples:
              ferry enqueue email.send --args '{"user_id": 42}'
              ferry enqueue stories.expire --in 30s
              ferry enqueue ferry.noop --count 10000        (bulk: one id per line)
            """
    )

    @Argument(help: "The job type, such as email.send.")
    var type: String

    @Option(help: "The job's arguments as a JSON object.")
    var args: String = "{}"

    @Option(help: "The queue (default: the type's configured queue).")
    var queue: String?

    @Option(name: .customLong("in"), help: "Run after a delay: 30s, 5m, 2h.")
    var delay: String?

    @Option(help: "Run at a time (ISO 8601, e.g. 2026-12-01T09:00:00Z).")
    var at: String?

    @Option(help: "Unique key: while a job with this key is queued or running, no second one is enqueued.")
    var unique: String?

    @Option(help: "Most attempts before the job goes dead.")
    var maxAttempts: Int?

    @Option(help: "Timeout of one attempt: 30s, 5m.")
    var timeout: String?

    @Option(help: "Enqueue this many copies in one round trip.")
    var count: Int = 1

    @Option(help: "Wait up to this long for the job to finish and print how it ended (see ferry job).")
    var wait: String?

    @Flag(help: "Keep a record of how the job ended even if it hands back no result, for ferry job ID (--wait implies it).")
    var keepRecord = false

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    @Flag(help: "Enqueue a type this app has no handler for (one that another fleet's workers serve).")
    var allowUnknown = false

    func validate() throws {
        if wait != nil, count > 1 { throw ValidationError("--wait waits for one job; drop --count") }
        guard count >= 1, count <= 1_000_000 else { throw ValidationError("--count must be between 1 and 1000000") }
        if delay != nil, at != nil { throw ValidationError("use either --in or --at, not both") }
        if count > 1, unique != nil { throw ValidationError("--unique enqueues at most one job; drop --count") }
    }

    func run() throws {
        let environment = FerryEnvironment()
        let registry = try environment.registry(jobsDirectory: jobsDir)
        guard let data = args.data(using: .utf8), let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw ValidationError("--args is not valid JSON: \(args.prefix(80))")
        }
        var options = EnqueueOptions(queue: queue, maxAttempts: maxAttempts, uniqueKey: unique, keepRecord: keepRecord || wait != nil)
        if let delay {
            guard let duration = JobSettingsFile.parseDuration(delay), duration >= .zero else {
                throw ValidationError("--in must be a duration like 30s, 5m or 2h, at most 10 years, got '\(delay)'")
            }
            options.runAt = Date().addingTimeInterval(duration.secondsValue)
        }
        if let at {
            guard let date = try? Date(at, strategy: .iso8601) else {
                throw ValidationError("--at must be an ISO 8601 time like 2026-12-01T09:00:00Z, got '\(at)'")
            }
            options.runAt = date
        }
        if let timeout {
            guard let duration = JobSettingsFile.parseDuration(timeout), (try? JobRules.checkTimeout(duration)) != nil else {
                throw ValidationError("--timeout must be a duration like 30s or 5m, from 1ms to 10 years, got '\(timeout)'")
            }
            options.timeout = duration
        }
        if !allowUnknown, let refusal = Names.unknownType(type, known: registry.types, allowance: "Pass --allow-unknown") {
            throw CommandFailure(refusal)
        }
        let dispatcher = Dispatcher(redis: try environment.redisPool(), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        let request = Dispatcher.JobRequest(type: type, args: value, options: options)
        if count == 1 {
            let id = try dispatcher.enqueue(request)
            print(id)
            if let wait {
                guard let timeout = JobSettingsFile.parseDuration(wait), timeout >= .zero else {
                    throw ValidationError("--wait must be a duration like 30s or 5m, got '\(wait)'")
                }
                let queue = queue ?? dispatcher.defaultQueue(for: type)
                try JobCommand.show(id: id, queue: queue, wait: timeout, keys: environment.keys, on: try RedisConnection(configuration: try environment.redisConfiguration()))
            }
        } else {
            var output = ""
            for chunkStart in stride(from: 0, to: count, by: 10_000) {
                let ids = try dispatcher.enqueue(batch: Array(repeating: request, count: min(10_000, count - chunkStart)))
                output = ids.joined(separator: "\n")
                print(output)
            }
        }
    }
}
