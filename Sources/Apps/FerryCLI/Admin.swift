import ArgumentParser
import FerryAnonymizer
import FerryAdmin
import FerryJobs
import FerryPostgres
import FerryQueue
import FerryScheduler
import FerrySupport
import FerryWorker
import Foundation
import Logging

/// `ferry admin`: the admin HTTP endpoint.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admin dashboard (/), JSON API (/api/v1), /healthz, /readyz and /metrics.",
        discussion: """
            Listens on FERRY_ADMIN_ADDR (default 127.0.0.1:7480). With FERRY_ADMIN_TOKEN set, every route
            but /healthz needs Authorization: Bearer <token>; off loopback a token is required.
            Requests must name this server in Host (its address, localhost, or one of the comma-separated
            FERRY_ADMIN_HOSTS); cross-site requests are refused; API writes must be application/json.
            """
    )

    @Option(help: "Directory of schedules/*.yml files (for GET /api/v1/schedules).")
    var schedules: String = "schedules"

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    @Option(help: "Seconds a connection may take to send a complete request head (or sit idle between requests) before it is closed.")
    var headerTimeout: Double = 10

    @Option(help: "Most connections served at once; more wait in the listen backlog.")
    var maxConnections: Int = 512

    @Flag(help: "Print a one-time link (valid 15 minutes) that logs a browser in to the dashboard, when a token is set.")
    var loginLink = false

    func validate() throws {
        guard Duration(checkedSeconds: headerTimeout, maximum: 3600) != nil, headerTimeout > 0 else {
            throw ValidationError("--header-timeout must be between 0 and 3600 seconds")
        }
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections must be between 1 and 100000") }
    }

    func run() throws {
        let environment = FerryEnvironment()
        environment.bootstrapLogging()
        let server = try Self.server(environment: environment, registry: try environment.registry(jobsDirectory: jobsDir), schedules: schedules,
                                     headerTimeout: headerTimeout, maxConnections: maxConnections)
        if loginLink, let link = server.makeLoginLink() {
            // On the terminal of the person who started the server, not in the structured log.
            FileHandle.standardOutput.write(Data("dashboard login link (valid once, for 15 minutes): \(link)\n".utf8))
        }
        try waitForAsync { try await server.runUntilSignalled() }
    }

    /// The admin endpoint as configured by the environment (shared with `ferry up`).
    static func server(
        environment: FerryEnvironment, registry: JobRegistry, schedules: String, headerTimeout: Double, maxConnections: Int
    ) throws -> AdminServer {
        var configuration = try AdminServer.Configuration(
            address: environment.values["FERRY_ADMIN_ADDR"] ?? "127.0.0.1:7480", token: environment.values["FERRY_ADMIN_TOKEN"],
            allowedHosts: (environment.values["FERRY_ADMIN_HOSTS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        )
        configuration.headerTimeout = Duration(checkedSeconds: headerTimeout) ?? .seconds(10)
        configuration.maxConnections = maxConnections
        try configuration.validate()
        let entries = FileManager.default.fileExists(atPath: schedules)
            ? try ScheduleFile.load(directory: schedules, knownTypes: Set(registry.types)) : []
        var postgresReady: (@Sendable () -> String?)?
        var postgres: PostgresConnectionPool?
        if let databaseURL = environment.databaseURL {
            let configuration = try PostgresConfiguration(url: databaseURL)
            postgres = PostgresConnectionPool(configuration: configuration, capacity: 4)
            postgresReady = {
                do {
                    try PostgresConnection(configuration: configuration).query("SELECT 1")
                    return nil
                } catch {
                    // The details (host, driver message) go to the log, never to the caller.
                    Logger(label: "ferry.admin").error("PostgreSQL is not ready", metadata: ["error": "\(error)"])
                    return "unreachable"
                }
            }
        }
        let dispatcher = Dispatcher(redis: try environment.redisPool(capacity: 8), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        return AdminServer(
            configuration: configuration, dispatcher: dispatcher, schedules: entries, postgresReady: postgresReady,
            resources: [importsResource(postgres), claudeUsageResource(postgres), claudeCallsResource(postgres), anonymizeRunsResource(postgres)],
            actions: [anonymizeAction(registry: registry, environment: environment.values)] + presidioActions, logger: Logger(label: "ferry.admin")
        )
    }

    /// Runs `body` on a connection of `postgres`, turning a missing configuration or a driver
    /// error into an answer that names neither hosts nor users (those go to the log).
    @Sendable static func query<Value>(_ postgres: PostgresConnectionPool?, _ what: String, _ body: (PostgresConnection) throws -> Value) throws -> Value {
        guard let postgres else { throw AdminResource.Failure.unavailable("\(what) live in PostgreSQL: start the admin server with DATABASE_URL") }
        do {
            return try postgres.withConnection(body)
        } catch let error as PostgresError {
            Logger(label: "ferry.admin").error("reading \(what) failed", metadata: ["error": "\(error)"])
            throw AdminResource.Failure.unavailable("PostgreSQL did not answer; see the admin server's log")
        }
    }

    /// `GET /api/v1/anonymize/runs[/{id}]`: anonymize.batch runs with their reports (`ferry anonymize runs`).
    static func anonymizeRunsResource(_ postgres: PostgresConnectionPool?) -> AdminResource {
        @Sendable func query<Value>(_ body: (PostgresConnection) throws -> Value) throws -> Value { try Self.query(postgres, "anonymize runs", body) }
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
    static func anonymizeAction(registry: JobRegistry, environment: [String: String]) -> AdminAction {
        let made = Result { () throws(AnonymizerError) -> Anonymizer in
            try AnonymizeBatch.anonymizer(json: nil, settings: registry.entries[AnonymizeBatch.type]?.settings, environment: environment)
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

    /// `GET /api/v1/imports[/{id}]`: trade imports (`ferry imports` over HTTP).
    static func importsResource(_ postgres: PostgresConnectionPool?) -> AdminResource {
        @Sendable func query<Value>(_ body: (PostgresConnection) throws -> Value) throws -> Value { try Self.query(postgres, "imports", body) }
        return AdminResource(
            name: "imports", pagedBy: "id",
            list: { request in try query { try ImportRecords.imports(limit: request.limit, before: request.before, on: $0) } },
            show: { id in
                guard let number = Int64(id), number > 0 else { throw AdminResource.Failure.badRequest("an import id is a positive whole number, not '\(id.prefix(40))'") }
                return try query { try ImportRecords.detail(id: number, on: $0) }
            }
        )
    }

    /// `GET /api/v1/claude/calls?ref=&batch_id=&job_id=`: recorded calls with their answers, newest first.
    static func claudeCallsResource(_ postgres: PostgresConnectionPool?) -> AdminResource {
        AdminResource(
            name: "claude/calls", pagedBy: "id",
            list: { request in
                let filters = ["ref", "batch_id", "job_id"].map { request.parameters[$0] }
                guard filters.allSatisfy({ ($0?.utf8.count ?? 0) <= 200 }) else { throw AdminResource.Failure.badRequest("ref, batch_id and job_id are at most 200 bytes") }
                return try query(postgres, "Claude calls") {
                    try ClaudeCalls.records(ref: filters[0], batchID: filters[1], jobID: filters[2], before: request.before, limit: request.limit, on: $0)
                }
            },
            show: Optional<@Sendable (String) throws -> ClaudeCalls.Record?>.none
        )
    }

    /// `GET /api/v1/claude/usage?since=2026-11-01&by=model|day`: the Claude jobs' tokens and cost.
    static func claudeUsageResource(_ postgres: PostgresConnectionPool?) -> AdminResource {
        AdminResource(
            name: "claude/usage",
            list: { request in
                guard let grouping = ClaudeCalls.Grouping(rawValue: request.parameters["by"] ?? "model") else {
                    throw AdminResource.Failure.badRequest("by must be model or day")
                }
                let since: Date
                do {
                    since = try request.parameters["since"].map(Claude.Usage.date) ?? Date().addingTimeInterval(-30 * 86_400)
                } catch {
                    throw AdminResource.Failure.badRequest("since must be a day like 2026-11-01 or an ISO 8601 time")
                }
                return try query(postgres, "Claude calls") { try ClaudeCalls.usage(since: since, by: grouping, on: $0) }
            },
            show: Optional<@Sendable (String) throws -> ClaudeCalls.Usage?>.none
        )
    }
}
