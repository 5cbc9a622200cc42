/// How a job type is run: its queue, attempts, backoff between attempts, timeout, and any
/// parameters of its own. A definition's ``JobDefinition/defaultSettings`` are overridden by
/// `jobs/<type>.yml` in the processes that read that folder (workers, `ferry up`).
public struct JobSettings: Sendable, Equatable {
    /// The queue its jobs go to unless an enqueue names another.
    public var queue: String
    /// Attempts before a failing job goes to the dead set (1 to 1,000).
    public var maxAttempts: Int
    /// The wait between a failed attempt and the next.
    public var backoff: Backoff
    /// The longest one attempt may run; then it is cancelled and counts as failed.
    public var timeout: Duration
    /// Most jobs of this type one worker process runs at once (`nil`: no limit beyond the
    /// process's concurrency). For heavy or rate-limited work: API calls, imports.
    public var concurrency: Int?
    /// The fleet-wide rate limit of the type (`rate:` in the YAML file), if any.
    public var rate: RateLimit?
    /// How long a job's result (``JobContext/setResult(_:)``) is kept after the job ends.
    public var resultTTL: Duration
    /// Job-specific parameters (rates, limits), from the `parameters:` map of the YAML file.
    public var parameters: [String: JSONValue]
    /// Where each setting came from: `default`, `handler`, or the YAML file's path.
    public var sources: [String: String]
    /// The folder the type's settings were read from (`--jobs-dir`, default `jobs`): a job's own
    /// files beside its settings (import profiles, mail templates) are found relative to it.
    /// Nil when the registry reads no settings folder.
    public var directory: String?
    /// The name Celery clients send this type's tasks under, when not the type's own (`celery:
    /// {name: …}` in the YAML file).
    public var celeryName: String?
    /// The names a Celery task's positional arguments are bound to, in order (`celery: {args:
    /// [user_id, template]}`); a task with more positional arguments than names is refused.
    public var celeryArguments: [String] = []

    /// Settings with Ferry's defaults: queue `default`, 10 attempts, 5 s backoff doubling up to an
    /// hour, a 30-minute timeout, results kept a day.
    public init(
        queue: String = "default", maxAttempts: Int = 10, backoff: Backoff = Backoff(),
        timeout: Duration = .seconds(1800), concurrency: Int? = nil, rate: RateLimit? = nil, resultTTL: Duration = .seconds(86_400),
        parameters: [String: JSONValue] = [:]
    ) {
        self.queue = queue
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.timeout = timeout
        self.concurrency = concurrency
        self.rate = rate
        self.resultTTL = resultTTL
        self.parameters = parameters
        self.sources = [:]
    }

    /// What the dispatcher uses for fields an enqueue leaves open.
    public var enqueueDefaults: EnqueueDefaults {
        EnqueueDefaults(queue: queue, maxAttempts: maxAttempts, timeout: timeout)
    }
}

/// Exponential backoff with jitter: attempt n waits `base × 2^(n-1)`, at most `max`, stretched
/// by a random factor up to `1 + jitter`, so that jobs failing together do not retry together.
public struct Backoff: Sendable, Equatable {
    /// The wait after the first failed attempt.
    public var base: Duration
    /// The longest wait.
    public var max: Duration
    /// The largest random stretch, as a share of the wait (0.25: up to 25% longer).
    public var jitter: Double

    /// Waits from `base`, doubling up to `max`, each stretched by up to `jitter`.
    public init(base: Duration = .seconds(5), max: Duration = .seconds(3600), jitter: Double = 0.25) {
        self.base = base
        self.max = max
        self.jitter = jitter
    }

    /// The wait before the attempt after failed attempt `attempt` (1-based).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = Swift.min(Swift.max(attempt - 1, 0), 30)
        let raw = base * (1 << exponent)
        let capped = raw > max ? max : raw
        return capped * (1 + jitter * random)
    }
}
