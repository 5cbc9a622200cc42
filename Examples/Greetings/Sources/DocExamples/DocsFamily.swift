import Ferry
import FerryHTTP
import FerryRedis
import Foundation

/// The job types the docs' examples name. `CountVisit` and `ExportChunk` are declared by the docs
/// themselves (Extracted.swift); the others stand for an app's own jobs and do real work: a
/// report is built, sent through the SMTP relay, an export published in Redis.
struct DocsFamily: JobFamily {
    let name = "docs"

    func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(CountVisit())
        try registry.register(ExportChunk())
        try registry.register(BuildReport())
        try registry.register(SendReport())
        try registry.register(PublishExport())
    }
}

/// `report.build`: hands back the report's month and row count as its result.
struct BuildReport: JobHandler {
    static let type = "report.build"
    struct Arguments: Codable, Sendable { var month: String }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        try context.setResult(["month": .string(arguments.month), "rows": 3] as JSONValue)
    }
}

/// `report.send`: mails a report (a chain's parent result or a batch's id) through SMTP_URL.
struct SendReport: JobHandler {
    static let type = "report.send"
    static let requiredServices = [RequiredService(SMTPService.self)]
    struct Arguments: Codable, Sendable {
        var to: String
        var parentResult: JSONValue? = nil
        var batchID: String? = nil

        enum CodingKeys: String, CodingKey {
            case to
            case parentResult = "parent_result"
            case batchID = "batch_id"
        }
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        let smtp = try context.services.require(SMTPService.self, for: Self.type)
        var text = "Report for \(arguments.to)\n"
        if let result = arguments.parentResult {
            text += "result: " + String(decoding: try JSONEncoder().encode(result), as: UTF8.self) + "\n"
        }
        if let batch = arguments.batchID { text += "batch: \(batch)\n" }
        _ = try smtp.send(EmailMessage(
            from: try EmailAddress("reports@example.com"), to: [try EmailAddress(arguments.to)],
            subject: "Report \(context.id)", text: text))
    }
}

/// `export.publish`: marks a batch's export as published (the key `published` holds its id).
struct PublishExport: JobHandler {
    static let type = "export.publish"
    struct Arguments: Codable, Sendable {
        var batchID: String? = nil

        enum CodingKeys: String, CodingKey { case batchID = "batch_id" }
    }

    func perform(_ arguments: Arguments, context: JobContext) throws {
        guard let batch = arguments.batchID else { throw PermanentJobError("export.publish is a batch's on_success: batch_id is missing") }
        try context.services.redis.command("SET", "published", .string(batch))
    }
}
