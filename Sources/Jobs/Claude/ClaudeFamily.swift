public import ArgumentParser
public import Ferry
public import FerryAdmin
import FerryHTTP
public import FerryPostgres
public import FerryWorker
import Foundation

/// `claude.message` and `claude.batch`; `ferry claude`; the admin endpoint's `claude/usage` and
/// `claude/calls`. Provides the Messages API client when `ANTHROPIC_API_KEY` is set.
public struct ClaudeFamily: JobFamily {
    public let name = "claude"
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(ClaudeMessage())
        try registry.register(ClaudeBatch())
    }

    public var migrations: [PostgresMigration] { [ClaudeSchema.migration] }
    public var commands: [any ParsableCommand.Type] { [ClaudeCommand.self] }
    public func adminResources(_ context: AdminContext) -> [AdminResource] { [Self.usageResource(context), Self.callsResource(context)] }

    public func provideServices(_ services: inout JobServices, environment: [String: String], concurrency: Int) throws {
        guard let http = services[HTTPService.self], let api = MessagesAPI(environment: environment, http: http) else { return }
        services.provide(ClaudeService.self, api)
    }

    /// `GET /api/v1/claude/calls?ref=&batch_id=&job_id=`: recorded calls with their answers, newest first.
    static func callsResource(_ context: AdminContext) -> AdminResource {
        AdminResource(
            name: "claude/calls", pagedBy: "id",
            list: { request in
                let filters = ["ref", "batch_id", "job_id"].map { request.parameters[$0] }
                guard filters.allSatisfy({ ($0?.utf8.count ?? 0) <= 200 }) else { throw AdminResource.Failure.badRequest("ref, batch_id and job_id are at most 200 bytes") }
                return try context.query("Claude calls") {
                    try ClaudeCalls.records(ref: filters[0], batchID: filters[1], jobID: filters[2], before: request.before, limit: request.limit, on: $0)
                }
            },
            show: Optional<@Sendable (String) throws -> ClaudeCalls.Record?>.none
        )
    }

    /// `GET /api/v1/claude/usage?since=2026-11-01&by=model|day`: the Claude jobs' tokens and cost.
    static func usageResource(_ context: AdminContext) -> AdminResource {
        AdminResource(
            name: "claude/usage",
            list: { request in
                guard let grouping = ClaudeCalls.Grouping(rawValue: request.parameters["by"] ?? "model") else {
                    throw AdminResource.Failure.badRequest("by must be model or day")
                }
                let since: Date
                do {
                    since = try request.parameters["since"].map(ClaudeCommand.Usage.date) ?? Date().addingTimeInterval(-30 * 86_400)
                } catch {
                    throw AdminResource.Failure.badRequest("since must be a day like 2026-11-01 or an ISO 8601 time")
                }
                return try context.query("Claude calls") { try ClaudeCalls.usage(since: since, by: grouping, on: $0) }
            },
            show: Optional<@Sendable (String) throws -> ClaudeCalls.Usage?>.none
        )
    }
}
