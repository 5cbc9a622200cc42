import FerryRedis
public import FerryWorker
import Foundation

/// Job types for smoke tests of a deployment, benchmarks and crash tests.
public enum BuiltinJobs {
    /// Registers `ferry.noop`, `ferry.sleep`, `ferry.fail`, `ferry.exit`, `ferry.record` and `ferry.probe`.
    public static func register(in registry: inout JobRegistry) throws(JobSettingsFile.Invalid) {
        try registry.register(Noop())
        try registry.register(Sleep())
        try registry.register(Fail())
        try registry.register(Exit())
        try registry.register(Record())
        try registry.register(Probe())
    }
}

/// `ferry.noop`: does nothing. The unit of throughput benchmarks.
struct Noop: JobHandler {
    static let type = "ferry.noop"
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}

/// `ferry.sleep {"ms": N}`: sleeps N milliseconds, stopping early when cancelled.
/// With `"ignore_cancel": true` it sleeps through cancellation, to exercise timeout recycling.
struct Sleep: JobHandler {
    static let type = "ferry.sleep"
    struct Arguments: Decodable, Sendable {
        var ms: Int
        var ignoreCancel: Bool?
        enum CodingKeys: String, CodingKey {
            case ms
            case ignoreCancel = "ignore_cancel"
        }
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        guard arguments.ms >= 0 else { throw PermanentJobError("ms must not be negative") }
        if arguments.ignoreCancel == true {
            Thread.sleep(forTimeInterval: Double(arguments.ms) / 1000)
        } else {
            try context.sleep(for: .milliseconds(arguments.ms))
        }
    }
}

/// `ferry.fail {"message": S}`: throws, so the job is retried and finally dies.
struct Fail: JobHandler {
    static let type = "ferry.fail"
    struct Arguments: Decodable, Sendable { var message: String? }
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        throw Failure(description: arguments.message ?? "ferry.fail failed as asked")
    }
}

/// `ferry.exit`: kills its own worker process with SIGKILL, as a crash or the OOM killer would.
struct Exit: JobHandler {
    static let type = "ferry.exit"
    func perform(_ arguments: NoArguments, context: JobContext) throws {
        context.logger.warning("ferry.exit: killing this worker process as asked")
        kill(getpid(), SIGKILL)
    }
}

/// `ferry.record {"key": K}`: adds the job id to the Redis set K and increments `K:runs`, so a
/// test counts from outside which jobs ran (the set) and how many runs there were (the counter).
/// With `"ms": N` it first works (sleeps) N milliseconds, so a crash can catch it mid-run.
struct Record: JobHandler {
    static let type = "ferry.record"
    struct Arguments: Decodable, Sendable {
        var key: String
        var ms: Int?
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        guard !arguments.key.isEmpty else { throw PermanentJobError("key must not be empty") }
        if let ms = arguments.ms, ms > 0 { try context.sleep(for: .milliseconds(ms)) }
        try context.services.redis.withConnection { redis in
            for reply in try redis.pipeline([
                ["SADD", .string(arguments.key), .string(context.id)],
                ["INCR", .string(arguments.key + ":runs")],
            ]) { try reply.check() }
        }
    }
}

/// `ferry.probe {"key": K}`: appends "<enqueued_at> <started_at>" (Unix seconds) to the Redis list
/// K — the enqueue-to-start latency that `ops/bench` reports.
struct Probe: JobHandler {
    static let type = "ferry.probe"
    struct Arguments: Decodable, Sendable { var key: String }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        let started = Date().timeIntervalSince1970
        let enqueued = context.job.runAt ?? context.job.enqueuedAt
        try context.services.redis.withConnection { redis in
            try redis.command("RPUSH", .string(arguments.key), .string("\(enqueued) \(started)"))
        }
    }
}
