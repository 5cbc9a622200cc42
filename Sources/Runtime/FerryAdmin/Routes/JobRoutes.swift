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

    enum CodingKeys: String, CodingKey {
        case id, type, queue, args, attempt, error, failures, raw
        case maxAttempts = "max_attempts", createdAt = "created_at", enqueuedAt = "enqueued_at", runAt = "run_at", diedAt = "died_at"
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
    var queue: String?
    var finishedAt: Double?
    var result: JSONValue?
    var error: JobFailure?
    var progress: WorkerInfo.BusyJob.Progress?

    enum CodingKeys: String, CodingKey {
        case state, worker, job, queue, result, error, progress
        case finishedAt = "finished_at"
    }

    /// Queued, running, scheduled, dead — or finished, while the type's result_ttl keeps its record.
    static func find(id: String, admin: QueueAdmin, on redis: RedisConnection) throws -> JobState? {
        guard let (job, location) = try admin.locator.find(id: id, on: redis) else {
            guard let (queue, result) = try JobResults(keys: admin.keys).find(id: id, on: redis) else { return nil }
            return JobState(state: result.status.rawValue, worker: nil, job: nil, queue: queue, finishedAt: result.finishedAt, result: result.value, error: result.error)
        }
        switch location {
        case .running(let worker):
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

/// `POST jobs`; the dead, retry and scheduled sets: list, retry/run, delete, and in bulk.
struct JobRoutes {
    let server: AdminServer

    /// The body of `POST jobs`: the job JSON's field names, plus `delay_s`.
    struct NewJob: Decodable {
        let type: String
        let args: JSONValue?
        let queue: String?
        let runAt: Double?
        let delayS: Double?
        let maxAttempts: Int?
        let timeoutS: Double?
        let uniqueKey: String?
        /// The next job of a chain: `{"type", "args", "queue", "max_attempts", "then"}`.
        let then: JSONValue?

        enum CodingKeys: String, CodingKey {
            case type, args, queue, then
            case runAt = "run_at", delayS = "delay_s", maxAttempts = "max_attempts", timeoutS = "timeout_s", uniqueKey = "unique_key"
        }
    }

    func register(on api: RouterGroup<BasicRequestContext>) {
        let admin = server.admin
        let dispatcher = server.dispatcher

        api.post("jobs") { request, _ in
            let body = try await server.body(of: request)
            let job: NewJob
            do {
                job = try JSONDecoder().decode(NewJob.self, from: Data(body))
            } catch {
                throw AdminError.badRequest("the body must be a JSON object with at least \"type\": \(Self.describe(error))")
            }
            if job.runAt != nil, job.delayS != nil { throw AdminError.badRequest("give run_at or delay_s, not both") }
            if let delay = job.delayS, !(0...31_536_000).contains(delay) { throw AdminError.badRequest("delay_s must be between 0 and 31536000") }
            if let runAt = job.runAt, UnixMilliseconds.checked(runAt) == nil {
                throw AdminError.badRequest("run_at must be Unix seconds between 0 and \(Int64(TimeLimits.latestInstant)), got \(runAt)")
            }
            let timeout: Duration?
            do throws(QueueError) {
                timeout = try job.timeoutS.map { seconds throws(QueueError) in try JobRules.timeout(seconds: seconds) }
                if let attempts = job.maxAttempts { try JobRules.checkMaxAttempts(attempts) }
            } catch {
                throw AdminError.badRequest(error.description)
            }
            let runAt = job.runAt.map { Date(timeIntervalSince1970: $0) } ?? job.delayS.map { Date().addingTimeInterval($0) }
            if let then = job.then, then != .null {
                do { _ = try Chain.link(then) } catch { throw AdminError.badRequest("\(error)") }
            }
            let options = EnqueueOptions(
                queue: job.queue, runAt: runAt, maxAttempts: job.maxAttempts, timeout: timeout, uniqueKey: job.uniqueKey,
                then: job.then == .null ? nil : job.then
            )
            let requestToEnqueue = Dispatcher.JobRequest(type: job.type, args: job.args ?? .object([:]), options: options)
            let id: String
            do throws(QueueError) {
                id = try await dispatcher.enqueue(requestToEnqueue)
            } catch {
                switch error {
                case .payloadTooLarge: throw AdminError(status: .contentTooLarge, code: "payload_too_large", message: error.description)
                case .invalidJob, .malformedJob: throw AdminError.badRequest(error.description)
                default: throw BlockingError(message: error.description)
                }
            }
            return try JSONResponse.make(["id": id], status: .created)
        }

        api.get("jobs/{id}") { _, context in
            let id = try Self.id(context)
            guard let found = try await server.blocking.withRedis({ try JobState.find(id: id, admin: admin, on: $0) }) else {
                throw AdminError.notFound("no job \(id) is queued, running, scheduled or dead, and none finished with a record within its result_ttl")
            }
            return try JSONResponse.make(found)
        }

        // MARK: Dead set

        api.get("dead") { request, _ in
            let query = try ListQuery(request)
            return try JSONResponse.make(try await server.blocking.withRedis { try query.deadPage(in: admin, on: $0) })
        }

        api.post("dead/{id}/retry") { _, context in
            let id = try Self.id(context)
            guard try await server.blocking.withRedis({ try admin.dead.retry(id: id, on: $0) }) else { throw AdminError.notFound("no dead job \(id)") }
            return try JSONResponse.make(["id": id, "status": "enqueued"])
        }

        api.delete("dead/{id}") { _, context in
            let id = try Self.id(context)
            guard try await server.blocking.withRedis({ try admin.dead.delete(id: id, on: $0) }) else { throw AdminError.notFound("no dead job \(id)") }
            return try JSONResponse.make(["id": id, "status": "deleted"])
        }

        api.post("dead/retry") { request, _ in
            let query = try ListQuery(request)
            let count = try await server.blocking.withRedis { redis in
                try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.retry($1, on: redis) ? 1 : 0) }
            }
            return try JSONResponse.make(["retried": count])
        }

        api.delete("dead") { request, _ in
            let query = try ListQuery(request)
            guard request.uri.queryParameters["confirm"] == "true" else {
                throw AdminError.badRequest("this deletes every matching dead job for good; repeat with ?confirm=true")
            }
            let count = try await server.blocking.withRedis { redis in
                try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.delete($1, on: redis) ? 1 : 0) }
            }
            return try JSONResponse.make(["deleted": count])
        }

        // MARK: Retries and scheduled jobs

        for (path, retries) in [("retries", true), ("scheduled", false)] {
            api.get(RouterPath(path)) { request, _ in
                let query = try ListQuery(request)
                return try JSONResponse.make(try await server.blocking.withRedis { try query.waitingPage(retries: retries, in: admin, on: $0) })
            }

            api.post(RouterPath("\(path)/run")) { request, _ in
                let query = try ListQuery(request)
                let count = try await server.blocking.withRedis { redis in
                    try query.waiting(retries: retries, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.runNow($1, on: redis) ? 1 : 0) }
                }
                return try JSONResponse.make(["enqueued": count])
            }

            api.delete(RouterPath(path)) { request, _ in
                let query = try ListQuery(request)
                guard request.uri.queryParameters["confirm"] == "true" else {
                    throw AdminError.badRequest("this deletes every matching job for good; repeat with ?confirm=true")
                }
                let count = try await server.blocking.withRedis { redis in
                    try query.waiting(retries: retries, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.delete($1, on: redis) ? 1 : 0) }
                }
                return try JSONResponse.make(["deleted": count])
            }

            api.post(RouterPath("\(path)/{id}/run")) { _, context in
                let id = try Self.id(context)
                guard try await server.blocking.withRedis({ try admin.scheduled.run(id: id, retry: retries, on: $0) }) else {
                    throw AdminError.notFound("no \(retries ? "retry" : "scheduled job") \(id)")
                }
                return try JSONResponse.make(["id": id, "status": "enqueued"])
            }

            api.delete(RouterPath("\(path)/{id}")) { _, context in
                let id = try Self.id(context)
                guard try await server.blocking.withRedis({ try admin.scheduled.delete(id: id, retry: retries, on: $0) }) else {
                    throw AdminError.notFound("no \(retries ? "retry" : "scheduled job") \(id)")
                }
                return try JSONResponse.make(["id": id, "status": "deleted"])
            }
        }
    }

    static func id(_ context: BasicRequestContext) throws -> String {
        let raw = context.parameters.get("id")
        guard let id = raw?.removingPercentEncoding ?? raw, !id.isEmpty, id.unicodeScalars.count <= 200 else {
            throw AdminError.badRequest("missing job id (1 to 200 characters, percent-encoded in the path)")
        }
        return id
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "not valid JSON"
        }
    }
}
