import FerrySupport
public import Foundation

/// A job as it travels through Redis: the envelope around a type name and its arguments.
///
/// The JSON form (snake_case keys) is the wire format documented in the README, so any language
/// can enqueue by writing it to a ready list. Times are Unix seconds with a fraction.
public struct Job: Sendable, Equatable, Codable {
    /// Unique id (32 hex characters when Ferry makes it; a Celery task id or any caller-chosen id otherwise).
    public var id: String
    /// The handler's type name, such as `email.send` or `ferry.noop`.
    public var type: String
    /// The queue it is (or was) waiting in.
    public var queue: String
    /// The handler's arguments: a JSON object.
    public var args: JSONValue
    /// Which attempt the next run is: 1 for the first run, 2 for the first retry, …
    public var attempt: Int
    /// Attempts before the job goes to the dead set.
    public var maxAttempts: Int
    /// When it was first enqueued (Unix seconds).
    public var createdAt: Double
    /// When it last entered a ready list (Unix seconds): the start of its queue latency.
    public var enqueuedAt: Double
    /// When a delayed job or retry becomes due.
    public var runAt: Double?
    /// While a job with this key is queued or running, enqueueing another is a no-op.
    public var uniqueKey: String?
    /// The longest one attempt may run before it is cancelled.
    public var timeoutS: Double?
    /// Why the last attempt failed.
    public var error: JobFailure?
    /// Why the attempts before the last failed, oldest first (at most ``Job/keptFailures``).
    public var failures: [JobFailure]?
    /// For a job enqueued by the scheduler: the tick it was enqueued for (Unix seconds), so a
    /// handler can be idempotent per tick.
    public var tick: Double?
    /// The batch the job belongs to and its place in it, `<batch id>:<index>` (see ``Batches``).
    public var batch: String?

    /// How many earlier failures a job carries: the first attempts' and the newest ones' matter
    /// most; the oldest beyond this are dropped.
    public static let keptFailures = 20

    /// The batch id and index of ``batch``, when it is well formed.
    public var batchMembership: (id: String, index: Int)? {
        guard let batch, let colon = batch.lastIndex(of: ":"), let index = Int(batch[batch.index(after: colon)...]), index >= 0,
              index < 1 << 32 else { return nil }
        return (String(batch[..<colon]), index)
    }
    /// The job to enqueue once this one succeeds, with this one's result as its `parent_result`
    /// argument: `{"type": …, "args": {…}, "queue": …, "max_attempts": …, "then": {…}}` (a chain).
    public var then: JSONValue?
    /// `true`: keep a record of how the job ended even when it hands back no result, so that
    /// `ferry job ID`, `ferry enqueue --wait` and ``JobResults/wait(id:queue:timeout:on:)`` see
    /// it finish (a job that hands nothing back otherwise leaves nothing behind).
    public var keepRecord: Bool?
    /// When the job is no longer wanted (Unix seconds): one that would start later is not run
    /// but goes dead with the reason `expired` (a Celery task's `expires`).
    public var expiresAt: Double?
    /// Where the job came from when not from Ferry's own dispatcher, as the ingress that brought
    /// it in describes it (`{"protocol": "celery", "task": …}`): read by that ingress's observers
    /// (a Celery result written where Celery's clients look), opaque to everything else.
    public var origin: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, type, queue, args, attempt, error, failures, tick, batch, then, origin
        case keepRecord = "keep_record"
        case expiresAt = "expires_at"
        case maxAttempts = "max_attempts"
        case createdAt = "created_at"
        case enqueuedAt = "enqueued_at"
        case runAt = "run_at"
        case uniqueKey = "unique_key"
        case timeoutS = "timeout_s"
    }

    public init(
        id: String = Job.newID(), type: String, queue: String, args: JSONValue = .object([:]),
        attempt: Int = 1, maxAttempts: Int, createdAt: Double = Date().timeIntervalSince1970,
        enqueuedAt: Double? = nil, runAt: Double? = nil, uniqueKey: String? = nil, timeoutS: Double? = nil,
        error: JobFailure? = nil, failures: [JobFailure]? = nil, tick: Double? = nil, batch: String? = nil, then: JSONValue? = nil,
        keepRecord: Bool? = nil, expiresAt: Double? = nil, origin: JSONValue? = nil
    ) {
        self.keepRecord = keepRecord
        self.expiresAt = expiresAt
        self.origin = origin
        self.id = id
        self.failures = failures
        self.type = type
        self.queue = queue
        self.args = args
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.createdAt = createdAt
        self.enqueuedAt = enqueuedAt ?? createdAt
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.timeoutS = timeoutS
        self.error = error
        self.tick = tick
        self.batch = batch
        self.then = then
    }

    /// A new random job id: 32 lowercase hex digits.
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return pad(String(high, radix: 16)) + pad(String(low, radix: 16))
    }

    private static func pad(_ text: String) -> String {
        String(repeating: "0", count: 16 - text.count) + text
    }

    /// The job's JSON bytes, as stored in Redis.
    public func encoded() -> [UInt8] {
        JobWriter.encode(self)
    }

    /// Parses a job from the bytes stored in Redis.
    /// Numbers out of range (a `timeout_s` of 1e300, a `run_at` in the year 30000, a zero
    /// `max_attempts`) make the payload malformed, with the field and the allowed range named.
    public static func decode(_ bytes: [UInt8]) throws(QueueError) -> Job {
        let job: Job
        do {
            job = try JobReader.decode(bytes)
        } catch {
            throw .malformedJob(reason: error.reason)
        }
        try job.checkRanges()
        return job
    }

    /// Checks every number against the range Ferry can act on.
    public func checkRanges() throws(QueueError) {
        func instant(_ name: String, _ value: Double?) throws(QueueError) {
            guard let value else { return }
            guard UnixMilliseconds.checked(value) != nil else {
                throw .malformedJob(reason: "field '\(name)' must be Unix seconds between 0 and \(Int64(TimeLimits.latestInstant)), got \(value)")
            }
        }
        guard (1...1_000_000).contains(attempt) else {
            throw .malformedJob(reason: "field 'attempt' must be between 1 and 1000000, got \(attempt)")
        }
        guard (1...1_000_000).contains(maxAttempts) else {
            throw .malformedJob(reason: "field 'max_attempts' must be between 1 and 1000000, got \(maxAttempts)")
        }
        if let timeoutS, !(timeoutS > 0 && timeoutS <= TimeLimits.longestDuration) {
            throw .malformedJob(reason: "field 'timeout_s' must be more than 0 and at most \(Int64(TimeLimits.longestDuration)) seconds, got \(timeoutS)")
        }
        try instant("created_at", createdAt)
        try instant("enqueued_at", enqueuedAt)
        try instant("run_at", runAt)
        try instant("tick", tick)
        try instant("expires_at", expiresAt)
    }
}

/// Why an attempt failed, as recorded on the job (retries) and in the dead set.
public struct JobFailure: Sendable, Equatable, Codable {
    /// The error's type name (`PostgresError`, `Timeout`, `UnknownJobType`, …).
    public var type: String
    /// The error's message, as a person would read it.
    public var message: String
    /// When the failure happened (Unix seconds).
    public var at: Double

    /// A failure of `type` with `message`, at `at` (now by default).
    public init(type: String, message: String, at: Double = Date().timeIntervalSince1970) {
        self.type = type
        self.message = message
        self.at = at
    }
}

/// An entry of the dead set: the job as it was, why it died, and when.
///
/// `job` is nil when the payload was not a job at all (then `raw` holds it as text).
public struct DeadJob: Sendable, Equatable {
    /// The job, when the payload was one.
    public var job: Job?
    /// The payload as text.
    public var raw: String
    /// The queue whose dead set holds it.
    public var queue: String
    /// Why it died: its last attempt's failure, or the reason it could not run.
    public var error: JobFailure
    /// When it died (Unix seconds).
    public var diedAt: Double
    /// The entry's exact bytes in the dead set, used to retry or delete it.
    let record: [UInt8]

    /// The job's id, or a stable id derived from the raw payload when it could not be parsed.
    public var id: String {
        if let job { return job.id }
        // FNV-1a of the payload: stable across processes, so `ferry dead retry raw-…` finds it.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in raw.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "raw-" + String(hash, radix: 16)
    }
}
