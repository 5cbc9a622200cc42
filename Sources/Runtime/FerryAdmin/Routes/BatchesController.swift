import FerryQueue
import FerryRedis
import Foundation
import Hummingbird

/// `POST batches` (enqueue a batch with its callbacks), `GET batches` (the newest 50) and
/// `GET batches/{id}` (its progress).
struct BatchesController {
    let server: AdminServer

    /// The most jobs one request may enqueue as a batch (larger batches: from Swift, or add to it).
    static let maximumJobs = 10_000

    struct NewJob: Decodable {
        let type: String
        let args: JSONValue?
        let maxAttempts: Int?

        enum CodingKeys: String, CodingKey {
            case type, args
            case maxAttempts = "max_attempts"
        }

        func request() throws -> Dispatcher.JobRequest {
            if let attempts = maxAttempts {
                do throws(QueueError) { try JobRules.checkMaxAttempts(attempts) } catch { throw AdminError.badRequest(error.description) }
            }
            return Dispatcher.JobRequest(type: type, args: args == .null ? .object([:]) : args ?? .object([:]), options: EnqueueOptions(maxAttempts: maxAttempts))
        }
    }

    struct NewBatch: Decodable {
        let jobs: [NewJob]
        let queue: String?
        let description: String?
        let onComplete: NewJob?
        let onSuccess: NewJob?
        /// Enqueue types this app has no handler for (another fleet serves them).
        let allowUnknown: Bool?

        enum CodingKeys: String, CodingKey {
            case jobs, queue, description
            case onComplete = "on_complete", onSuccess = "on_success", allowUnknown = "allow_unknown"
        }
    }

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.post("batches", use: create)
        api.get("batches", use: recent)
        api.get("batches/{id}", use: show)
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await server.body(of: request)
        let batch: NewBatch
        do {
            batch = try JSONDecoder().decode(NewBatch.self, from: Data(body))
        } catch {
            throw AdminError.badRequest("the body must be a JSON object with \"jobs\": [{\"type\": …, \"args\": {…}}, …]: \(JobsController.describe(error))")
        }
        guard (1...Self.maximumJobs).contains(batch.jobs.count) else {
            throw AdminError.badRequest("a batch takes 1 to \(Self.maximumJobs) jobs per request, got \(batch.jobs.count)")
        }
        for type in Set(batch.jobs.map(\.type) + [batch.onComplete?.type, batch.onSuccess?.type].compactMap { $0 }).sorted() {
            try server.checkKnown(type, allowUnknown: batch.allowUnknown == true)
        }
        let requested = BatchRequest(
            jobs: try batch.jobs.map { try $0.request() }, queue: batch.queue, description: batch.description ?? "",
            onComplete: try batch.onComplete?.request(), onSuccess: try batch.onSuccess?.request()
        )
        let created: (batch: String, ids: [String])
        do {
            created = try await server.blocking.run { [dispatcher = server.dispatcher] in try Batches(dispatcher: dispatcher).enqueue(requested) }
        } catch let error as QueueError {
            throw AdminError.refusedEnqueue(error)
        }
        struct Created: Encodable {
            let id: String
            let jobIDs: [String]
            enum CodingKeys: String, CodingKey { case id, jobIDs = "job_ids" }
        }
        return try JSONResponse.make(Created(id: created.batch, jobIDs: created.ids), status: .created)
    }

    @Sendable func recent(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try JSONResponse.make(["batches": try await server.blocking.withRedis { [dispatcher = server.dispatcher] in try Batches(dispatcher: dispatcher).recent(limit: 50, on: $0) }])
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        let status = try await server.blocking.withRedis { [dispatcher = server.dispatcher] in try Batches(dispatcher: dispatcher).status(id: id, on: $0) }
        guard let status else { throw AdminError.notFound("no batch \(id); a batch is kept for a week after it completes") }
        return try JSONResponse.make(status)
    }
}
