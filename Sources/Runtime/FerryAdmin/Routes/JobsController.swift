import FerryQueue
import FerryRedis
import FerrySupport
import Foundation
import Hummingbird

/// `POST jobs` (enqueue) and `GET jobs/{id}` (where a job is and what is known of it).
struct JobsController {
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
        /// Enqueue a type this app has no handler for (another fleet serves it).
        let allowUnknown: Bool?
        /// Keep a record of how the job ended even if it hands back no result (for `GET /api/v1/jobs/{id}`).
        let keepRecord: Bool?

        enum CodingKeys: String, CodingKey {
            case type, args, queue, then
            case runAt = "run_at", delayS = "delay_s", maxAttempts = "max_attempts", timeoutS = "timeout_s", uniqueKey = "unique_key"
            case allowUnknown = "allow_unknown", keepRecord = "keep_record"
        }

        /// The job's type and those of the chain it starts.
        var types: [String] {
            var types = [type]
            var link = then
            while let next = link, types.count <= 100, case .string(let type)? = next["type"] {
                types.append(type)
                link = next["then"]
            }
            return types
        }
    }

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.post("jobs", use: enqueue)
        api.get("jobs/{id}", use: show)
    }

    @Sendable func enqueue(_ request: Request, context: BasicRequestContext) async throws -> Response {
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
        for type in job.types { try server.checkKnown(type, allowUnknown: job.allowUnknown == true) }
        let options = EnqueueOptions(
            queue: job.queue, runAt: runAt, maxAttempts: job.maxAttempts, timeout: timeout, uniqueKey: job.uniqueKey,
            then: job.then == .null ? nil : job.then, keepRecord: job.keepRecord == true
        )
        let id: String
        do throws(QueueError) {
            id = try await server.dispatcher.enqueue(Dispatcher.JobRequest(type: job.type, args: job.args ?? .object([:]), options: options))
        } catch {
            throw AdminError.refusedEnqueue(error)
        }
        return try JSONResponse.make(["id": id], status: .created)
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard let found = try await server.blocking.withRedis({ [admin = server.admin] in try JobState.find(id: id, admin: admin, on: $0) }) else {
            throw AdminError.notFound("no job \(id) is queued, running, scheduled or dead, and none finished with a record within its result_ttl")
        }
        return try JSONResponse.make(found)
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
