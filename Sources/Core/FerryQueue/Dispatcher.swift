public import FerryRedis
import FerrySupport
public import Foundation
import Synchronization
import Dispatch

/// How to enqueue one job: where, when, how often to try, and whether it must be unique.
public struct EnqueueOptions: Sendable, Equatable {
    /// The queue; `nil` uses the job type's configured queue, else `default`.
    public var queue: String?
    /// When the job becomes due; `nil` means now.
    public var runAt: Date?
    /// Attempts before the job goes dead; `nil` uses its type's configuration.
    public var maxAttempts: Int?
    /// The longest one attempt may run; `nil` uses its type's configuration.
    public var timeout: Duration?
    /// While a job with this key is queued or running, enqueueing another returns the first one's id.
    public var uniqueKey: String?
    /// How long a unique key holds at most (it is released when the job finishes).
    public var uniqueFor: Duration
    /// The job to enqueue when this one succeeds (a chain; see ``Chain``).
    public var then: JSONValue?
    /// Keep a record of how the job ended even if it hands back no result, for whoever waits
    /// for it (``JobResults``, `ferry job`); jobs with a result always leave one.
    public var keepRecord: Bool
    /// The job's id, when the caller must know it in advance (a Celery chain's task ids); a new
    /// random id when nil. Ids are 1 to 200 bytes.
    public var id: String?
    /// Where the job came from (see ``Job/origin``).
    public var origin: JSONValue?

    /// Options for one enqueue; every field left `nil` is taken from the job type's settings.
    public init(
        queue: String? = nil, runAt: Date? = nil, maxAttempts: Int? = nil, timeout: Duration? = nil,
        uniqueKey: String? = nil, uniqueFor: Duration = .seconds(3600), then: JSONValue? = nil, keepRecord: Bool = false
    ) {
        self.then = then
        self.keepRecord = keepRecord
        self.queue = queue
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.uniqueKey = uniqueKey
        self.uniqueFor = uniqueFor
    }

    /// Due `delay` from now.
    public static func runIn(_ delay: Duration, queue: String? = nil) -> EnqueueOptions {
        EnqueueOptions(queue: queue, runAt: Date().addingTimeInterval(delay.secondsValue))
    }
}

/// What a job type's configuration says when an enqueue leaves a field open.
public struct EnqueueDefaults: Sendable {
    /// The queue an enqueue that names none goes to.
    public var queue: String
    /// Attempts before a failing job goes dead.
    public var maxAttempts: Int
    /// The longest one attempt may run (`nil`: the worker's default).
    public var timeout: Duration?

    /// Defaults for a type the dispatcher knows nothing else about.
    public init(queue: String = "default", maxAttempts: Int = 10, timeout: Duration? = nil) {
        self.queue = queue
        self.maxAttempts = maxAttempts
        self.timeout = timeout
    }
}

/// The dispatcher: puts jobs into Redis for the workers. Safe to share between threads and tasks.
///
/// ```swift
/// let ferry = Dispatcher(configuration: try RedisConfiguration(url: "redis://127.0.0.1:6379"))
/// let id = try await ferry.enqueue(EmailSend.self, .init(userID: 42, template: "welcome"))
/// ```
///
/// An immediate job costs one Redis write (LPUSH on the queue's ready list); a delayed one a ZADD;
/// a unique one a short script; a bulk enqueue one round trip for all its jobs. The `async`
/// calls suspend the task, never blocking its thread (concurrent tasks share round trips, see
/// ``RedisAsyncConnection``); the others block the calling thread for one round trip, for code
/// that runs on threads of its own (blocking job handlers, command-line tools).
public final class Dispatcher: Sendable {
    /// The namespace its keys are in.
    public let keys: QueueKeyspace
    /// Connections for the blocking calls.
    public let redis: RedisConnectionPool
    /// Largest accepted job, in bytes of JSON (default 512 KiB).
    public let payloadLimit: Int
    private let defaults: @Sendable (String) -> EnqueueDefaults?
    private let knownQueues = Mutex<Set<String>>([])
    /// Where the async calls go.
    private let asynchronous: any RedisPipelining

    /// A dispatcher for the Redis of `configuration`: blocking calls take connections of a pool
    /// of eight, async calls share one connection driven by an I/O thread.
    ///
    /// - Parameter defaults: the configured queue, attempts and timeout of a job type, when the
    ///   caller knows them (a registry that read `jobs/*.yml`); nil falls back to the type's
    ///   ``JobDefinition/defaultSettings`` for a typed enqueue, else to ``EnqueueDefaults``.
    public convenience init(
        configuration: RedisConfiguration, keys: QueueKeyspace = QueueKeyspace(), payloadLimit: Int = 512 * 1024,
        defaults: @escaping @Sendable (String) -> EnqueueDefaults? = { _ in nil }
    ) {
        self.init(
            redis: RedisConnectionPool(configuration: configuration), asynchronous: RedisAsyncConnection(configuration: configuration),
            keys: keys, payloadLimit: payloadLimit, defaults: defaults)
    }

    /// A dispatcher over `redis` for blocking calls and `asynchronous` for async ones. Without
    /// `asynchronous`, an async call takes a pooled connection on a thread of Dispatch's own (never
    /// a task's thread), one round trip per call.
    public init(
        redis: RedisConnectionPool, asynchronous: (any RedisPipelining)? = nil, keys: QueueKeyspace = QueueKeyspace(),
        payloadLimit: Int = 512 * 1024, defaults: @escaping @Sendable (String) -> EnqueueDefaults? = { _ in nil }
    ) {
        self.redis = redis
        self.asynchronous = asynchronous ?? PooledPipelining(pool: redis)
        self.keys = keys
        self.payloadLimit = payloadLimit
        self.defaults = defaults
    }

    /// One job to enqueue.
    public struct JobRequest: Sendable {
        /// The job type's name.
        public var type: String
        /// Its arguments: a JSON object.
        public var args: JSONValue
        /// Where, when and how often.
        public var options: EnqueueOptions
        /// The definition's defaults, for a typed request: used when the dispatcher knows no
        /// configured defaults for the type.
        var definedDefaults: EnqueueDefaults?

        /// A request by type name, for jobs whose definition this process does not have (another
        /// fleet's, another language's); prefer the typed ``init(_:_:options:)``.
        public init(type: String, args: JSONValue = .object([:]), options: EnqueueOptions = EnqueueOptions()) {
            self.type = type
            self.args = args
            self.options = options
        }

        /// A job of `definition` with `arguments`, checked by the compiler.
        public init<Definition: JobDefinition>(
            _ definition: Definition.Type, _ arguments: Definition.Arguments, options: EnqueueOptions = EnqueueOptions()
        ) throws(QueueError) {
            try self.init(type: Definition.type, arguments: arguments, options: options)
            definedDefaults = Definition.defaultSettings.enqueueDefaults
        }

        /// A request whose arguments are any `Encodable` value that encodes to a JSON object.
        public init(type: String, arguments: some Encodable, options: EnqueueOptions = EnqueueOptions()) throws(QueueError) {
            do {
                let data = try JSONEncoder().encode(arguments)
                self.init(type: type, args: try JSONDecoder().decode(JSONValue.self, from: data), options: options)
            } catch {
                throw .invalidJob("the arguments of \(type) could not be encoded as a JSON object: \(error)")
            }
        }
    }

    /// Enqueues one job and returns its id (for a unique job already queued: that job's id).
    /// Blocks the calling thread for one round trip.
    @discardableResult
    public func enqueue(_ request: JobRequest) throws(QueueError) -> String {
        try enqueue(batch: [request])[0]
    }

    /// Enqueues a job of `definition` and returns its id; blocks the calling thread for one round trip.
    @discardableResult
    public func enqueue<Definition: JobDefinition>(
        _ definition: Definition.Type, _ arguments: Definition.Arguments, options: EnqueueOptions = EnqueueOptions()
    ) throws(QueueError) -> String {
        try enqueue(JobRequest(definition, arguments, options: options))
    }

    /// Enqueues many jobs in one pipelined round trip and returns their ids in order.
    ///
    /// Immediate jobs of one queue go in as multi-value LPUSHes. Every job is validated before
    /// anything is written: one bad job fails the whole batch and nothing is enqueued.
    @discardableResult
    public func enqueue(batch requests: [JobRequest]) throws(QueueError) -> [String] {
        let plan = try plan(requests)
        let holders = try withRedis { connection in
            for reply in try connection.pipeline(plan.commands) { try reply.check() }
            return try connection.run(QueueScripts.enqueueUnique, pipelined: plan.uniqueCalls).map { try $0.check() }
        }
        knownQueues.withLock { $0.formUnion(plan.queues) }
        return plan.ids(holders: holders)
    }

    /// Enqueues one job and returns its id (for a unique job already queued: that job's id);
    /// suspends the task, not its thread.
    @discardableResult
    public nonisolated(nonsending) func enqueue(_ request: JobRequest) async throws(QueueError) -> String {
        try await enqueue(batch: [request], over: asynchronous)[0]
    }

    /// Enqueues a job of `definition` and returns its id; suspends the task, not its thread.
    ///
    /// ```swift
    /// try await ferry.enqueue(EmailSend.self, .init(userID: 42, template: "welcome"))
    /// try await ferry.enqueue(EmailSend.self, .init(userID: 7, template: "digest"), options: .runIn(.seconds(3600)))
    /// ```
    @discardableResult
    public nonisolated(nonsending) func enqueue<Definition: JobDefinition>(
        _ definition: Definition.Type, _ arguments: Definition.Arguments, options: EnqueueOptions = EnqueueOptions()
    ) async throws(QueueError) -> String {
        try await enqueue(batch: [JobRequest(definition, arguments, options: options)], over: asynchronous)[0]
    }

    /// Enqueues many jobs in one round trip and returns their ids in order; suspends the task,
    /// not its thread. Nothing is written unless every job is valid.
    @discardableResult
    public nonisolated(nonsending) func enqueue(batch requests: [JobRequest]) async throws(QueueError) -> [String] {
        try await enqueue(batch: requests, over: asynchronous)
    }

    /// The async enqueue over a given connection: a job's own (its worker loop's pipeline).
    package nonisolated(nonsending) func enqueue(batch requests: [JobRequest], over redis: some RedisPipelining) async throws(QueueError) -> [String] {
        let plan = try plan(requests)
        let holders: [RedisReply]
        do {
            for reply in try await redis.pipeline(plan.commands) { try reply.check() }
            holders = try await redis.run(QueueScripts.enqueueUnique, pipelined: plan.uniqueCalls).map { reply throws(RedisError) in try reply.check() }
        } catch {
            throw .redis(error)
        }
        knownQueues.withLock { $0.formUnion(plan.queues) }
        return plan.ids(holders: holders)
    }

    /// What enqueueing some jobs writes: plain commands first (queue registration, LPUSHes,
    /// ZADDs), then a check-and-set script per unique job, in order, so that a key repeated in
    /// the batch goes to its first job.
    private struct Plan {
        var ids: [String]
        var commands: [[RedisArgument]] = []
        var uniqueIndexes: [Int] = []
        var uniqueCalls: [(keys: [RedisArgument], arguments: [RedisArgument])] = []
        var queues: Set<String>

        func ids(holders: [RedisReply]) -> [String] {
            var ids = ids
            for (index, holder) in zip(uniqueIndexes, holders) { ids[index] = holder.string ?? ids[index] }
            return ids
        }
    }

    private func plan(_ requests: [JobRequest]) throws(QueueError) -> Plan {
        var prepared: [(job: Job, payload: [UInt8])] = []
        prepared.reserveCapacity(requests.count)
        for request in requests { prepared.append(try prepare(request)) }
        let now = Date().timeIntervalSince1970
        var plan = Plan(ids: prepared.map(\.job.id), queues: Set(prepared.map(\.job.queue)))
        let unregistered = knownQueues.withLock { known in plan.queues.subtracting(known) }
        if !unregistered.isEmpty {
            plan.commands.append(["SADD", .string(keys.queues)] + unregistered.sorted().map { .string($0) })
        }
        var pending: [String: [RedisArgument]] = [:]
        for (index, (job, payload)) in prepared.enumerated() {
            if job.uniqueKey != nil {
                plan.uniqueIndexes.append(index)
                plan.uniqueCalls.append(uniqueCall(job, payload: payload, uniqueFor: requests[index].options.uniqueFor))
            } else if (job.runAt ?? 0) > now {
                plan.commands += scheduling(job, payload: payload)
            } else {
                // Mutated in place: copying the growing list out of the dictionary would make this quadratic.
                pending[job.queue, default: ["LPUSH", .string(keys.ready(job.queue))]].append(.bytes(payload))
                if pending[job.queue]!.count == 1002 {
                    plan.commands.append(pending.removeValue(forKey: job.queue)!)
                }
            }
        }
        for list in pending.values where list.count > 2 { plan.commands.append(list) }
        return plan
    }

    /// The enqueue-unique script's keys and arguments for `job`.
    private func uniqueCall(_ job: Job, payload: [UInt8], uniqueFor: Duration) -> (keys: [RedisArgument], arguments: [RedisArgument]) {
        let due = job.runAt.map { $0 > Date().timeIntervalSince1970 } ?? false
        let target = due ? keys.scheduled(job.queue) : keys.ready(job.queue)
        let ttlMilliseconds = max(1, uniqueFor.wholeMilliseconds)
        return ([.string(target), .string(keys.unique(job.queue, key: job.uniqueKey ?? "")), .string(keys.ids(job.queue))],
                [.bytes(payload), .string(job.id), .string(String(ttlMilliseconds)), .string(due ? Self.score(job.runAt!) : "")])
    }

    /// Enqueues a job whose payload someone else built (admin API, other tools), after validating it.
    @discardableResult
    public func enqueue(job: Job) throws(QueueError) -> String {
        let timeout = try job.timeoutS.map { seconds throws(QueueError) in try JobRules.timeout(seconds: seconds) }
        return try enqueue(JobRequest(type: job.type, args: job.args, options: EnqueueOptions(
            queue: job.queue, runAt: job.runAt.map { Date(timeIntervalSince1970: $0) }, maxAttempts: job.maxAttempts,
            timeout: timeout, uniqueKey: job.uniqueKey)))
    }

    /// Enqueues a scheduler entry's job for `tick`, exactly once across any number of schedulers:
    /// returns false when this tick (or a later one) was already enqueued for `entry`.
    /// The job's id is `<entry>@<tick ms>` and it carries `tick`.
    public func enqueue(_ request: JobRequest, entry: String, tick: Date) throws(QueueError) -> Bool {
        var (job, _) = try prepare(request)
        guard let tickMilliseconds = UnixMilliseconds.checked(tick.timeIntervalSince1970) else {
            throw .invalidJob("the tick \(tick.timeIntervalSince1970) is not a time between 1970 and 9999")
        }
        job.id = "\(entry)@\(tickMilliseconds)"
        job.tick = tick.timeIntervalSince1970
        let payload = job.encoded()
        return try withRedis { connection in
            try registerQueues([job.queue], on: connection)
            return try connection.run(
                QueueScripts.enqueueTick, keys: [.string(keys.schedule(job.queue, entry: entry)), .string(keys.ready(job.queue))],
                arguments: [.string(String(tickMilliseconds)), .bytes(payload)]
            ).int == 1
        }
    }

    /// The queue a job type goes to when an enqueue names none.
    public func defaultQueue(for type: String) -> String { (defaults(type) ?? EnqueueDefaults()).queue }

    /// The last tick enqueued for a scheduler entry, if any.
    public func lastTick(entry: String, queue: String) throws(QueueError) -> Date? {
        try withRedis { connection in
            // Written by schedulers, but any client can write it: a time outside 1970…9999 reads
            // as unknown (as the enqueue script also takes it), not as a date the calendar
            // arithmetic would have to work with.
            try connection.command("GET", .string(keys.schedule(queue, entry: entry))).int
                .flatMap { (0...Int(TimeLimits.latestInstant) * 1000).contains($0) ? Date(timeIntervalSince1970: Double($0) / 1000) : nil }
        }
    }

    // MARK: Validation

    /// Builds the envelope and checks it: names, arguments, size.
    func prepare(_ request: JobRequest, batch: String? = nil) throws(QueueError) -> (Job, [UInt8]) {
        try Names.validateJobType(request.type)
        let settings = defaults(request.type) ?? request.definedDefaults ?? EnqueueDefaults()
        let queue = request.options.queue ?? settings.queue
        try Names.validateQueue(queue)
        guard case .object = request.args else {
            throw .invalidJob("the arguments of \(request.type) must be a JSON object, like {\"user_id\": 42}")
        }
        let maxAttempts = request.options.maxAttempts ?? settings.maxAttempts
        try JobRules.checkMaxAttempts(maxAttempts)
        let timeout = request.options.timeout ?? settings.timeout
        if let timeout { try JobRules.checkTimeout(timeout) }
        if let runAt = request.options.runAt, UnixMilliseconds.checked(runAt.timeIntervalSince1970) == nil {
            throw .invalidJob("run_at must be a time between 1970 and 9999 (Unix seconds 0 to \(Int64(TimeLimits.latestInstant))), got \(runAt.timeIntervalSince1970)")
        }
        if let unique = request.options.uniqueKey {
            guard !unique.isEmpty, unique.utf8.count <= 200 else { throw .invalidJob("unique_key must be 1 to 200 bytes") }
        }
        if let then = request.options.then { _ = try Chain.link(then) }
        if let id = request.options.id, id.isEmpty || id.utf8.count > 200 { throw .invalidJob("a job id must be 1 to 200 bytes") }
        let job = Job(
            id: request.options.id ?? Job.newID(), type: request.type, queue: queue, args: request.args, maxAttempts: maxAttempts,
            runAt: request.options.runAt?.timeIntervalSince1970, uniqueKey: request.options.uniqueKey,
            timeoutS: timeout?.secondsValue, batch: batch, then: request.options.then,
            keepRecord: request.options.keepRecord ? true : nil, origin: request.options.origin
        )
        let payload = job.encoded()
        guard payload.count <= payloadLimit else { throw .payloadTooLarge(bytes: payload.count, limit: payloadLimit) }
        return (job, payload)
    }


    /// A delayed job's commands: into the scheduled set, and into the id index (same hash slot,
    /// one pipeline) so that it can be found by id in O(log N).
    private func scheduling(_ job: Job, payload: [UInt8]) -> [[RedisArgument]] {
        let score = Self.score(job.runAt ?? 0)
        return [
            ["ZADD", .string(keys.scheduled(job.queue)), .string(score), .bytes(payload)],
            ["HSET", .string(keys.ids(job.queue)), .string(job.id), .string("s:" + score)],
        ]
    }

    /// A due time as a sorted-set score; `prepare` has checked the range.
    static func score(_ seconds: Double) -> String { String(UnixMilliseconds.clamped(seconds)) }

    private func registerQueues(_ queues: Set<String>, on connection: RedisConnection) throws(RedisError) {
        let new = knownQueues.withLock { known in queues.subtracting(known) }
        guard !new.isEmpty else { return }
        try connection.command(["SADD", .string(keys.queues)] + new.sorted().map { .string($0) })
        knownQueues.withLock { $0.formUnion(new) }
    }

    private func withRedis<Result>(_ body: (RedisConnection) throws -> Result) throws(QueueError) -> Result {
        do {
            return try redis.withConnection(body)
        } catch let error as QueueError {
            throw error
        } catch {
            throw .redis(RedisError(wrapping: error))
        }
    }
}

/// Async calls over a pool of blocking connections: each call borrows a connection on a thread
/// of Dispatch's own and resumes the task with the replies, so no task's thread waits on the socket.
private struct PooledPipelining: RedisPipelining {
    let pool: RedisConnectionPool

    nonisolated(nonsending) func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        let pool = pool
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[RedisReply], RedisError>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(RedisError) in
                    do {
                        return try pool.withConnection { try $0.pipeline(commands) }
                    } catch {
                        throw RedisError(wrapping: error)
                    }
                })
            }
        }
        return try result.get()
    }
}
