import FerrySupport
import FerryQueue
import FerryRedis
import Foundation
import Hummingbird

/// A job as the API shows it.
struct JobView: Encodable {
    var id: String
    var type: String?
    var queue: String
    var args: JSONValue?
    var attempt: Int?
    var maxAttempts: Int?
    var createdAt: Double?
    var enqueuedAt: Double?
    var runAt: Double?
    var error: JobFailure?
    /// The failures of the attempts before the one in `error`, oldest first.
    var failures: [JobFailure]?
    var diedAt: Double?
    /// The payload as text, for dead entries that were not valid jobs.
    var raw: String?
    /// When it is no longer wanted, and where it came from (a Celery task: its name).
    var expiresAt: Double?
    var origin: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, type, queue, args, attempt, error, failures, raw, origin
        case maxAttempts = "max_attempts", createdAt = "created_at", enqueuedAt = "enqueued_at", runAt = "run_at", diedAt = "died_at"
        case expiresAt = "expires_at"
    }

    init(_ job: Job, runAt: Double? = nil) {
        id = job.id
        type = job.type
        queue = job.queue
        args = job.args.redactingSecrets()
        attempt = job.attempt
        maxAttempts = job.maxAttempts
        createdAt = job.createdAt
        enqueuedAt = job.enqueuedAt
        self.runAt = runAt ?? job.runAt
        error = job.error
        failures = job.failures
        expiresAt = job.expiresAt
        origin = job.origin
    }

    init(id: String, queue: String) {
        self.id = id
        self.queue = queue
    }

    init(_ dead: DeadJob) {
        if let job = dead.job {
            self.init(job)
            // The dead record's error is the last attempt's; the job's own is the one before.
            if let previous = job.error { failures = (job.failures ?? []) + [previous] }
        } else {
            self.init(id: dead.id, queue: dead.queue)
            raw = dead.raw
        }
        error = dead.error
        diedAt = dead.diedAt
    }
}

/// Filters and paging shared by the dead, retries and scheduled lists:
/// `?queue=&type=&error=<text>&page=1&per_page=50`.
struct ListQuery {
    let queue: String?
    let type: String?
    let errorText: String?
    let page: Int
    let perPage: Int

    init(_ request: Request) throws {
        let parameters = request.uri.queryParameters
        // An empty field of a filter form means "any".
        queue = parameters["queue"].flatMap { $0.isEmpty ? nil : String($0) }
        type = parameters["type"].flatMap { $0.isEmpty ? nil : String($0) }
        errorText = parameters["error"].flatMap { $0.isEmpty ? nil : String($0).lowercased() }
        page = try Self.number(parameters["page"].map(String.init), name: "page", default: 1, range: 1...1_000_000)
        perPage = try Self.number(parameters["per_page"].map(String.init), name: "per_page", default: 50, range: 1...500)
    }

    /// Pages reach the newest `window` jobs per queue; pages beyond it are empty (narrow the list
    /// with queue, type or error to reach further).
    var isBeyondWindow: Bool { page * perPage > Self.window }

    /// How many jobs per queue a filtered list or a page reaches at most: a request costs at most
    /// this much work, however large the sets grow.
    static let window = 10_000

    var isFiltered: Bool { type != nil || errorText != nil }

    static func number(_ text: String?, name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw AdminError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func matches(type: String?, queue: String, error: JobFailure?) -> Bool {
        if let self_type = self.type, self_type != type { return false }
        if let self_queue = self.queue, self_queue != queue { return false }
        if let errorText {
            guard let error, "\(error.type): \(error.message)".lowercased().contains(errorText) else { return false }
        }
        return true
    }

    /// The dead jobs this query matches among the newest `limit` of each queue, newest first.
    func dead(in admin: QueueAdmin, limit: Int = 100_000, on redis: RedisConnection) throws -> [DeadJob] {
        try admin.dead.jobs(queue: queue, limit: limit, on: redis).filter { matches(type: $0.job?.type, queue: $0.queue, error: $0.error) }
    }

    /// One page of the dead list: O(page) when unfiltered, else within the window.
    func deadPage(in admin: QueueAdmin, on redis: RedisConnection) throws -> Page {
        if isBeyondWindow {
            return Page(jobs: [], total: try admin.dead.page(queue: queue, offset: 0, limit: 1, on: redis).total, page: page, perPage: perPage)
        }
        if !isFiltered {
            let (jobs, total) = try admin.dead.page(queue: queue, offset: (page - 1) * perPage, limit: perPage, on: redis)
            return Page(jobs: jobs.map(JobView.init), total: total, page: page, perPage: perPage)
        }
        let matching = try dead(in: admin, limit: Self.window, on: redis)
        return Page(jobs: self.page(matching).map(JobView.init), total: matching.count, page: page, perPage: perPage)
    }

    /// One page of the retries (or delayed jobs): O(page) when unfiltered, else within the window.
    func waitingPage(retries: Bool, in admin: QueueAdmin, on redis: RedisConnection) throws -> Page {
        if !isFiltered || isBeyondWindow {
            let (jobs, total) = try admin.scheduled.page(
                queue: queue, retries: retries, offset: isBeyondWindow ? 0 : (page - 1) * perPage, limit: isBeyondWindow ? 0 : perPage, on: redis
            )
            return Page(jobs: jobs.map { JobView($0.job, runAt: $0.runAt) }, total: total, page: page, perPage: perPage)
        }
        let matching = try waiting(retries: retries, in: admin, limit: Self.window, on: redis)
        return Page(jobs: self.page(matching).map { JobView($0.job, runAt: $0.runAt) }, total: matching.count, page: page, perPage: perPage)
    }

    /// The retries (or delayed jobs) this query matches among the soonest `limit` of each queue.
    func waiting(retries: Bool, in admin: QueueAdmin, limit: Int = 100_000, on redis: RedisConnection) throws -> [ScheduledJob] {
        try admin.scheduled.jobs(queue: queue, limit: limit, on: redis)
            .filter { $0.isRetry == retries && matches(type: $0.job.type, queue: $0.job.queue, error: $0.job.error) }
    }

    func page<T>(_ items: [T]) -> [T] {
        Array(items.dropFirst((page - 1) * perPage).prefix(perPage))
    }
}

/// Where a job is and what is known of it: `GET /api/v1/jobs/{id}` and the dashboard's job page.
struct JobState: Encodable {
    let state: String
    let worker: String?
    let job: JobView?
    /// The type of a finished job whose record names it (its ``job`` is gone).
    var type: String?
    /// The arguments a finished job ran with, when its record keeps them (secrets masked).
    var args: JSONValue?
    var queue: String?
    var finishedAt: Double?
    var result: JSONValue?
    var error: JobFailure?
    var progress: WorkerInfo.BusyJob.Progress?

    enum CodingKeys: String, CodingKey {
        case state, worker, job, type, args, queue, result, error, progress
        case finishedAt = "finished_at"
    }

    /// Queued, running, scheduled, dead — or finished, while the type's result_ttl keeps its record.
    static func find(id: String, admin: QueueAdmin, on redis: RedisConnection) throws -> JobState? {
        guard let (job, location) = try admin.locator.find(id: id, on: redis) else {
            guard let (queue, result) = try JobResults(keys: admin.keys).find(id: id, on: redis) else { return nil }
            return JobState(state: result.status.rawValue, worker: nil, job: nil, type: result.type, args: result.args?.redactingSecrets(), queue: queue,
                            finishedAt: result.finishedAt, result: result.value, error: result.error)
        }
        switch location {
        case .running(let worker):
            if let (queue, result) = try JobResults(keys: admin.keys).find(id: id, on: redis) {
                // Finished: its worker wrote the record and acknowledges it with its next round trip.
                return JobState(state: result.status.rawValue, worker: nil, job: job.map { JobView($0) }, type: result.type, args: result.args?.redactingSecrets(),
                                queue: queue, finishedAt: result.finishedAt, result: result.value, error: result.error)
            }
            // Its progress as of its worker's last heartbeat.
            let progress = try WorkerRegistry(keys: admin.keys).liveWorkers(on: redis).lazy.flatMap(\.busy).first { $0.id == id }?.progress
            return JobState(state: "running", worker: worker, job: job.map { JobView($0) }, progress: progress)
        case .ready: return JobState(state: "ready", worker: nil, job: job.map { JobView($0) })
        case .scheduled(let scheduled):
            return JobState(state: scheduled.isRetry ? "retry" : "scheduled", worker: nil, job: JobView(scheduled.job, runAt: scheduled.runAt))
        case .dead(let dead): return JobState(state: "dead", worker: nil, job: JobView(dead))
        }
    }
}

struct Page: Encodable {
    let jobs: [JobView]
    let total: Int
    let page: Int
    let perPage: Int

    enum CodingKeys: String, CodingKey {
        case jobs, total, page
        case perPage = "per_page"
    }
}
