public import FerryRedis
import FerrySupport
public import Foundation
import Synchronization

/// How to enqueue one job: where, when, how often to try, and whether it must be unique.
public struct EnqueueOptions: Sendable, Equatable {
    /// The queue; `nil` uses the job type's configured queue, else `default`.
    public var queue: String?
    /// When the job becomes due; `nil` means now.
    public var runAt: Date?
    public var maxAttempts: Int?
    public var timeout: Duration?
    /// While a job with this key is queued or running, enqueueing another returns the first one's id.
    public var uniqueKey: String?
    /// How long a unique key holds at most (it is released when the job finishes).
    public var uniqueFor: Duration
    /// The job to enqueue when this one succeeds (a chain; see ``Chain``).
    public var then: JSONValue?

    public init(
        queue: String? = nil, runAt: Date? = nil, maxAttempts: Int? = nil, timeout: Duration? = nil,
        uniqueKey: String? = nil, uniqueFor: Duration = .seconds(3600), then: JSONValue? = nil
    ) {
        self.then = then
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
    public var queue: String
    public var maxAttempts: Int
    public var timeout: Duration?

    public init(queue: String = "default", maxAttempts: Int = 10, timeout: Duration? = nil) {
        self.queue = queue
        self.maxAttempts = maxAttempts
        self.timeout = timeout
    }
}

/// The dispatcher: puts jobs into Redis for the workers. Safe to share between threads.
///
/// An immediate job costs one Redis write (LPUSH on the queue's ready list); a delayed one a ZADD;
/// a unique one a short script. ``enqueue(_:)-(JobRequest)`` and ``enqueue(batch:)`` block the
/// calling thread for one round trip.
public final class Dispatcher: Sendable {
    public let keys: QueueKeyspace
    public let redis: RedisConnectionPool
    /// Largest accepted job, in bytes of JSON (default 512 KiB).
    public let payloadLimit: Int
    private let defaults: @Sendable (String) -> EnqueueDefaults
    private let knownQueues = Mutex<Set<String>>([])

    /// - Parameter defaults: the configured queue, attempts and timeout of a job type.
    public init(
        redis: RedisConnectionPool, keys: QueueKeyspace = QueueKeyspace(), payloadLimit: Int = 512 * 1024,
        defaults: @escaping @Sendable (String) -> EnqueueDefaults = { _ in EnqueueDefaults() }
    ) {
        self.redis = redis
        self.keys = keys
        self.payloadLimit = payloadLimit
        self.defaults = defaults
    }

    /// One job to enqueue.
    public struct JobRequest: Sendable {
        public var type: String
        public var args: JSONValue
        public var options: EnqueueOptions

        public init(type: String, args: JSONValue = .object([:]), options: EnqueueOptions = EnqueueOptions()) {
            self.type = type
            self.args = args
            self.options = options
        }

        /// A request whose arguments are any `Encodable` value that encodes to a JSON object.
        public init(type: String, arguments: some Encodable, options: EnqueueOptions = EnqueueOptions()) throws(QueueError) {
            do {
                let data = try JSONEncoder().encode(arguments)
                self.init(type: type, args: try JSONDecoder().decode(JSONValue.self, from: data), options: options)
            } catch {
                throw .invalidJob("the arguments of \(type) could not be encoded as JSON: \(error)")
            }
        }
    }

    /// Enqueues one job and returns its id (for a unique job already queued: that job's id).
    @discardableResult
    public func enqueue(_ request: JobRequest) throws(QueueError) -> String {
        let (job, payload) = try prepare(request)
        var commands: [[RedisArgument]] = []
        var script: (RedisScript, [RedisArgument], [RedisArgument])?
        let due = job.runAt.map { $0 > Date().timeIntervalSince1970 } ?? false
        if job.uniqueKey != nil {
            let call = uniqueCall(job, payload: payload, uniqueFor: request.options.uniqueFor)
            script = (QueueScripts.enqueueUnique, call.keys, call.arguments)
        } else if due {
            commands = scheduling(job, payload: payload)
        } else {
            commands = [["LPUSH", .string(keys.ready(job.queue)), .bytes(payload)]]
        }
        return try withRedis { connection in
            try registerQueues([job.queue], on: connection)
            if let (script, scriptKeys, arguments) = script {
                return try connection.run(script, keys: scriptKeys, arguments: arguments).string ?? job.id
            }
            for reply in try connection.pipeline(commands) { try reply.check() }
            return job.id
        }
    }

    /// Enqueues many jobs in one pipelined round trip and returns their ids in order.
    ///
    /// Immediate jobs of one queue go in as multi-value LPUSHes. Every job is validated before
    /// anything is written: one bad job fails the whole batch and nothing is enqueued.
    @discardableResult
    public func enqueue(batch requests: [JobRequest]) throws(QueueError) -> [String] {
        var prepared: [(job: Job, payload: [UInt8])] = []
        prepared.reserveCapacity(requests.count)
        for request in requests { prepared.append(try prepare(request)) }
        let now = Date().timeIntervalSince1970
        var ids = prepared.map(\.job.id)
        var commands: [[RedisArgument]] = []
        var uniqueIndexes: [Int] = []
        var pending: [String: [RedisArgument]] = [:]
        for (index, (job, payload)) in prepared.enumerated() {
            if job.uniqueKey != nil {
                uniqueIndexes.append(index)
            } else if (job.runAt ?? 0) > now {
                commands += scheduling(job, payload: payload)
            } else {
                // Mutated in place: copying the growing list out of the dictionary would make this quadratic.
                pending[job.queue, default: ["LPUSH", .string(keys.ready(job.queue))]].append(.bytes(payload))
                if pending[job.queue]!.count == 1002 {
                    commands.append(pending.removeValue(forKey: job.queue)!)
                }
            }
        }
        for list in pending.values where list.count > 2 { commands.append(list) }
        let queues = Set(prepared.map(\.job.queue))
        // Unique jobs each need their check-and-set script: all of them in one pipelined round
        // trip after the plain jobs (run in order, so a key repeated in the batch goes to its first job).
        let uniqueCalls = uniqueIndexes.map { index in
            uniqueCall(prepared[index].job, payload: prepared[index].payload, uniqueFor: requests[index].options.uniqueFor)
        }
        let holders = try withRedis { connection in
            try registerQueues(queues, on: connection)
            for reply in try connection.pipeline(commands) { try reply.check() }
            return try connection.run(QueueScripts.enqueueUnique, pipelined: uniqueCalls).map { try $0.check() }
        }
        for (index, holder) in zip(uniqueIndexes, holders) { ids[index] = holder.string ?? ids[index] }
        return ids
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
        var timeout: Duration?
        if let seconds = job.timeoutS {
            guard let checked = Duration(checkedSeconds: seconds), checked > .zero else { throw Self.badTimeout(seconds) }
            timeout = checked
        }
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
    public func defaultQueue(for type: String) -> String { defaults(type).queue }

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
        let settings = defaults(request.type)
        let queue = request.options.queue ?? settings.queue
        try Names.validateQueue(queue)
        guard case .object = request.args else {
            throw .invalidJob("the arguments of \(request.type) must be a JSON object, like {\"user_id\": 42}")
        }
        let maxAttempts = request.options.maxAttempts ?? settings.maxAttempts
        guard (1...1000).contains(maxAttempts) else { throw .invalidJob("max_attempts must be between 1 and 1000, got \(maxAttempts)") }
        let timeout = request.options.timeout ?? settings.timeout
        if let timeout, timeout <= .zero || timeout.secondsValue > TimeLimits.longestDuration { throw Self.badTimeout(timeout.secondsValue) }
        if let runAt = request.options.runAt, UnixMilliseconds.checked(runAt.timeIntervalSince1970) == nil {
            throw .invalidJob("run_at must be a time between 1970 and 9999 (Unix seconds 0 to \(Int64(TimeLimits.latestInstant))), got \(runAt.timeIntervalSince1970)")
        }
        if let unique = request.options.uniqueKey {
            guard !unique.isEmpty, unique.utf8.count <= 200 else { throw .invalidJob("unique_key must be 1 to 200 bytes") }
        }
        if let then = request.options.then { _ = try Chain.link(then) }
        let job = Job(
            type: request.type, queue: queue, args: request.args, maxAttempts: maxAttempts,
            runAt: request.options.runAt?.timeIntervalSince1970, uniqueKey: request.options.uniqueKey,
            timeoutS: timeout?.secondsValue, batch: batch, then: request.options.then
        )
        let payload = job.encoded()
        guard payload.count <= payloadLimit else { throw .payloadTooLarge(bytes: payload.count, limit: payloadLimit) }
        return (job, payload)
    }

    static func badTimeout(_ seconds: Double) -> QueueError {
        .invalidJob("timeout_s must be more than 0 and at most \(Int64(TimeLimits.longestDuration)) seconds (10 years), got \(seconds)")
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
            throw .redis("\(error)")
        }
    }
}
