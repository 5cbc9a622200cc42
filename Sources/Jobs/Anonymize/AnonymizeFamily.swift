public import ArgumentParser
public import Ferry
public import FerryAdmin
import FerryAnonymizer
public import FerryPostgres
public import FerryWorker
import Foundation

/// `anonymize.batch` and its chunk and finish jobs; `ferry anonymize`; the admin endpoint's
/// `anonymize/runs`, `POST anonymize` and Presidio's REST API under `presidio/`.
public struct AnonymizeFamily: JobFamily {
    public let name = "anonymize"
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(AnonymizeBatch())
        try registry.register(AnonymizeChunk())
        try registry.register(AnonymizeFinish())
    }

    public var migrations: [PostgresMigration] { [AnonymizeSchema.migration] }
    public var commands: [any ParsableCommand.Type] { [AnonymizeCommand.self] }
    public func adminResources(_ context: AdminContext) -> [AdminResource] { [Self.runsResource(context)] }
    public func adminActions(_ context: AdminContext) -> [AdminAction] { [Self.anonymizeAction(context)] + Self.presidioActions }

    /// `GET /api/v1/anonymize/runs[/{id}]`: anonymize.batch runs with their reports (`ferry anonymize runs`).
    static func runsResource(_ context: AdminContext) -> AdminResource {
        @Sendable func query<Value>(_ body: (PostgresConnection) throws -> Value) throws -> Value { try context.query("anonymize runs", body) }
        return AdminResource(
            name: "anonymize/runs", key: "runs", pagedBy: "run_id",
            list: { request in try query { try AnonymizeRuns.recent(limit: request.limit, before: request.before, db: $0) } },
            show: { id in
                guard let number = Int64(id), number > 0 else { throw AdminResource.Failure.badRequest("a run id is a positive whole number, not '\(id.prefix(40))'") }
                return try query { db -> AnonymizeReport? in
                    guard try db.query("SELECT 1 FROM anonymize_runs WHERE id = $1", [number]).first != nil else { return nil }
                    return try AnonymizeRuns.report(run: number, db: db)
                }
            }
        )
    }

    /// What `POST /api/v1/anonymize` takes: a text, and whether only to find.
    struct AnonymizeBody: Decodable {
        var text: String
        var analyze: Bool?
    }

    /// `POST /api/v1/anonymize {"text": …}`: one text anonymized now, with the configuration of
    /// jobs/anonymize.batch.yml (not one from the request: that would let a caller name any
    /// environment variable as a key).
    static func anonymizeAction(_ context: AdminContext) -> AdminAction {
        let made = Result { () throws(AnonymizerError) -> Anonymizer in
            try AnonymizeBatch.anonymizer(json: nil, settings: context.registry.entries[AnonymizeBatch.type]?.settings, environment: context.environment)
        }
        return AdminAction(name: "anonymize") { body -> AnonymizeAnswer in
            let request: AnonymizeBody
            do {
                request = try JSONDecoder().decode(AnonymizeBody.self, from: Data(body))
            } catch {
                throw AdminResource.Failure.badRequest("the body must be {\"text\": \"…\", \"analyze\": false}")
            }
            let anonymizer: Anonymizer
            switch made {
            case .success(let ready): anonymizer = ready
            case .failure(let error): throw AdminResource.Failure.unavailable("jobs/anonymize.batch.yml: \(error)")
            }
            if request.analyze ?? false { return AnonymizeAnswer(text: nil, items: nil, findings: AnalyzedText(request.text, anonymizer.analyze(request.text)).items) }
            let result = anonymizer.anonymize(request.text)
            return AnonymizeAnswer(text: result.text, items: result.items, findings: nil)
        }
    }

    /// Presidio's REST API under `/api/v1/presidio`: `POST analyze`, `anonymize` and
    /// `deanonymize` with Presidio's request and response JSON (a service built on
    /// presidio-analyzer and presidio-anonymizer points its base URLs here).
    static var presidioActions: [AdminAction] {
        @Sendable func presidio<Answer: Encodable & Sendable>(_ body: [UInt8], _ answer: ([UInt8]) throws(PresidioREST.BadRequest) -> Answer) throws -> Answer {
            do {
                return try answer(body)
            } catch {
                throw AdminResource.Failure.reply(status: error.status, json: error.json)
            }
        }
        return [
            AdminAction(name: "presidio/analyze") { body in try presidio(body, PresidioREST.analyze) },
            AdminAction(name: "presidio/anonymize") { body in try presidio(body, PresidioREST.anonymize) },
            AdminAction(name: "presidio/deanonymize") { body in try presidio(body, PresidioREST.deanonymize) },
            AdminAction(name: "presidio/supportedentities", method: .get) { _ in PresidioREST.supportedEntities },
            AdminAction(name: "presidio/recognizers", method: .get) { _ in PresidioREST.recognizers },
            AdminAction(name: "presidio/anonymizers", method: .get) { _ in PresidioREST.anonymizers },
            AdminAction(name: "presidio/deanonymizers", method: .get) { _ in PresidioREST.deanonymizers },
        ]
    }

    struct AnonymizeAnswer: Encodable, Sendable {
        var text: String?
        var items: [AnonymizedText.Item]?
        var findings: [AnalyzedText.Item]?
    }
}
