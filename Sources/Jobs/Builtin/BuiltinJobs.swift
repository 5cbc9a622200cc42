import FerryRedis
public import FerryWorker
import Foundation

/// Job types for smoke tests of a deployment, benchmarks and crash tests.
public enum BuiltinJobs {
    /// Registers `ferry.noop`, `ferry.echo`, `ferry.sleep`, `ferry.fail`, `ferry.flaky`, `ferry.exit`, `ferry.record`,
    /// `ferry.count`, `ferry.fanout`, `ferry.relay` and `ferry.probe`.
    ///
    /// - Parameter testJobs: whether the jobs that harm their worker run: `ferry.exit` (kills its
    ///   process) and `ferry.sleep` with `ignore_cancel` (holds a thread past its timeout). Off, as
    ///   anyone who can enqueue could otherwise take worker processes down; when off they go dead
    ///   with the reason. `ferry worker` turns them on with `FERRY_TEST_JOBS=1`.
    public static func register(in registry: inout JobRegistry, testJobs: Bool = false) throws(JobRegistry.RegistrationError) {
        try registry.register(Noop())
        try registry.register(Echo())
        try registry.register(Sleep(testJobs: testJobs))
        try registry.register(Fail())
        try registry.register(Flaky())
        try registry.register(Fanout())
        try registry.register(Exit(enabled: testJobs))
        try registry.register(Record())
        try registry.register(Count())
        try registry.register(Probe())
        try registry.register(Relay())
    }
}

extension BuiltinJobs {
    static func refusal(_ what: String) -> String {
        "\(what) is a test job that harms its worker process and is disabled; set FERRY_TEST_JOBS=1 on the workers to allow it"
    }
}

/// `ferry.noop`: does nothing. The unit of throughput benchmarks.
struct Noop: JobHandler {
    static let type = "ferry.noop"
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}

/// `ferry.echo {…}`: succeeds with `{"echo": <its arguments>}` as its result — the smoke test of
/// results (`ferry enqueue ferry.echo --args '{"a": 1}' --wait 10s`). Async, so results, chains
/// and batches are exercised on that path too (`ferry.flaky` is their blocking counterpart).
struct Echo: AsyncJobHandler {
    static let type = "ferry.echo"
    func perform(_ arguments: NoArguments, context: JobContext) async throws {
        try context.setResult(["echo": context.job.args])
    }
}

/// `ferry.sleep {"ms": N}`: sleeps N milliseconds, stopping early when cancelled.
/// With `"ignore_cancel": true` it sleeps through cancellation, to exercise timeout recycling.
struct Sleep: JobHandler {
    static let type = "ferry.sleep"
    let testJobs: Bool
    struct Arguments: Codable, Sendable {
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
            guard testJobs else { throw PermanentJobError(BuiltinJobs.refusal("ferry.sleep with ignore_cancel")) }
            Thread.sleep(forTimeInterval: Double(arguments.ms) / 1000)
        } else {
            try context.sleep(for: .milliseconds(arguments.ms))
        }
    }
}

/// `ferry.fail {"message": S}`: throws, so the job is retried and finally dies.
struct Fail: JobHandler {
    static let type = "ferry.fail"
    struct Arguments: Codable, Sendable { var message: String? }
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        throw Failure(description: arguments.message ?? "ferry.fail failed as asked")
    }
}

/// `ferry.flaky {"fail": N}`: fails its first N attempts, then succeeds with
/// `{"attempt": n, "args": <its arguments>}` as its result — retries and chains, end to end.
struct Flaky: JobHandler {
    static let type = "ferry.flaky"
    struct Arguments: Codable, Sendable { var fail: Int? }
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        let failures = arguments.fail ?? 1
        if context.attempt <= failures { throw Failure(description: "ferry.flaky: attempt \(context.attempt) fails as asked (\(failures) to fail)") }
        try context.setResult(["attempt": .int(Int64(context.attempt)), "args": context.job.args])
    }
}

/// `ferry.fanout {"key": K, "children": N}`: adds N `ferry.record {"key": K}` jobs to its own
/// batch, then records itself in K like them — nested additions to a batch, end to end.
struct Fanout: JobHandler {
    static let type = "ferry.fanout"
    struct Arguments: Codable, Sendable {
        var key: String
        var children: Int
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        guard (0...10_000).contains(arguments.children) else { throw PermanentJobError("children must be from 0 to 10000") }
        try context.addToBatch((0..<arguments.children).map { _ in try .init(Record.self, .init(key: arguments.key)) })
        try Record().perform(.init(key: arguments.key), context: context)
    }
}

/// `ferry.exit`: kills its own worker process with SIGKILL, as a crash or the OOM killer would.
struct Exit: JobHandler {
    static let type = "ferry.exit"
    let enabled: Bool

    func perform(_ arguments: NoArguments, context: JobContext) throws {
        guard enabled else { throw PermanentJobError(BuiltinJobs.refusal("ferry.exit")) }
        context.logger.warning("ferry.exit: killing this worker process as asked")
        kill(getpid(), SIGKILL)
    }
}

/// `ferry.record {"key": K}`: adds the job id to the Redis set K and increments `K:runs`, so a
/// test counts from outside which jobs ran (the set) and how many runs there were (the counter).
/// With `"ms": N` it first works (sleeps) N milliseconds, so a crash can catch it mid-run.
struct Record: JobHandler {
    static let type = "ferry.record"
    struct Arguments: Codable, Sendable {
        var key: String
        var ms: Int?
        init(key: String, ms: Int? = nil) {
            self.key = key
            self.ms = ms
        }
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        guard !arguments.key.isEmpty else { throw PermanentJobError("key must not be empty") }
        if let ms = arguments.ms, ms > 0 { try context.sleep(for: .milliseconds(ms)) }
        for reply in try context.services.redis.pipeline(Self.commands(key: arguments.key, id: context.id)) { try reply.check() }
    }

    static func commands(key: String, id: String) -> [[RedisArgument]] {
        [["SADD", .string(key), .string(id)], ["INCR", .string(key + ":runs")]]
    }
}

/// `ferry.count {"key": K}`: what `ferry.record` does, as an ``AsyncJobHandler``: a worker thread
/// runs many at once and sends their commands in one write. With `"ms": N` it first waits N
/// milliseconds without holding its thread. The unit of the one-round-trip benchmark.
struct Count: AsyncJobHandler {
    static let type = "ferry.count"
    typealias Arguments = Record.Arguments

    func perform(_ arguments: Arguments, context: JobContext) async throws {
        guard !arguments.key.isEmpty else { throw PermanentJobError("key must not be empty") }
        if let ms = arguments.ms, ms > 0 { try await context.sleep(for: .milliseconds(ms)) }
        for reply in try await context.services.redis.pipeline(Record.commands(key: arguments.key, id: context.id)) { try reply.check() }
    }
}

/// `ferry.relay {"key": K, "count": N}`: enqueues N `ferry.count {"key": K}` jobs, typed, from
/// an async job (their commands leave with those of the thread's other jobs), then records
/// itself in K — jobs enqueueing jobs, end to end.
struct Relay: AsyncJobHandler {
    static let type = "ferry.relay"
    struct Arguments: Codable, Sendable {
        var key: String
        var count: Int
    }

    func perform(_ arguments: Arguments, context: JobContext) async throws {
        guard (0...10_000).contains(arguments.count) else { throw PermanentJobError("count must be from 0 to 10000") }
        for _ in 0..<arguments.count { try await context.enqueue(Count.self, .init(key: arguments.key)) }
        try await Count().perform(.init(key: arguments.key), context: context)
    }
}

/// `ferry.probe {"key": K}`: appends "<enqueued_at> <started_at>" (Unix seconds) to the Redis list
/// K — the enqueue-to-start latency that `ops/bench` reports, and the start times that the rate
/// limit tests count. With `"limited_ms": N` the first job to run for list K reports that the
/// service it calls limits it for N ms (``RateLimited``), as a 429 with `retry-after` would.
struct Probe: AsyncJobHandler {
    static let type = "ferry.probe"
    struct Arguments: Codable, Sendable {
        var key: String
        var limitedMS: Int?
        enum CodingKeys: String, CodingKey {
            case key
            case limitedMS = "limited_ms"
        }
    }

    func perform(_ arguments: Arguments, context: JobContext) async throws {
        let started = Date().timeIntervalSince1970
        let enqueued = context.job.runAt ?? context.job.enqueuedAt
        let redis = context.services.redis
        if let limited = arguments.limitedMS, (1...3_600_000).contains(limited),
           try await redis.command("SET", .string(arguments.key + ":limited"), .string("\(started)"), "NX").string == "OK" {
            throw RateLimited(retryAfter: .milliseconds(limited), reason: "ferry.probe: limited as asked")
        }
        try await redis.command("RPUSH", .string(arguments.key), .string("\(enqueued) \(started)"))
    }
}
