import ArgumentParser
import FerryAdmin
import FerryHTTP
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

    @Flag(help: """
        Print a one-time link (valid 15 minutes) that logs a browser in to the dashboard, when a token is set. \
        When a server already listens on FERRY_ADMIN_ADDR, the link comes from it (with FERRY_ADMIN_TOKEN, \
        or the token ferry up keeps in FERRY_SERVICES_DIR/secrets/admin.token) and nothing else starts.
        """)
    var loginLink = false

    func validate() throws {
        guard Duration(checkedSeconds: headerTimeout, maximum: 3600) != nil, headerTimeout > 0 else {
            throw ValidationError("--header-timeout must be between 0 and 3600 seconds")
        }
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections must be between 1 and 100000") }
    }

    func run() throws {
        let environment = FerryEnvironment()
        if loginLink, let link = try Self.linkFromRunningServer(environment) {
            print("dashboard login link (valid once, for 15 minutes): \(link)")
            return
        }
        environment.bootstrapLogging()
        let server = try Self.server(environment: environment, registry: try environment.registry(jobsDirectory: jobsDir), schedules: schedules,
                                     headerTimeout: headerTimeout, maxConnections: maxConnections)
        if loginLink, let link = server.makeLoginLink() {
            // On the terminal of the person who started the server, not in the structured log.
            FileHandle.standardOutput.write(Data("dashboard login link (valid once, for 15 minutes): \(link)\n".utf8))
        }
        try waitForAsync { try await server.runUntilSignalled() }
    }

    /// A new login link from the admin server already listening on `FERRY_ADMIN_ADDR`, or nil
    /// when none answers there (then this command starts one).
    static func linkFromRunningServer(_ environment: FerryEnvironment) throws -> String? {
        let configuration = try AdminServer.Configuration(address: environment.values["FERRY_ADMIN_ADDR"] ?? "127.0.0.1:7480", token: nil)
        let host = configuration.host == "0.0.0.0" || configuration.host == "::" ? "127.0.0.1" : configuration.host
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(configuration.port)"
        let http = FerryHTTPClient()
        guard (try? http.execute(FerryHTTPClient.Request(url: base + "/healthz", timeout: .seconds(3), connectTimeout: .seconds(1))))?.status == 200 else {
            return nil
        }
        let secretFile = (environment.values["FERRY_SERVICES_DIR"] ?? ".ferry/services") + "/secrets/admin.token"
        let token = environment.values["FERRY_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (try? String(contentsOfFile: secretFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let token, !token.isEmpty else {
            throw CommandFailure("an admin server runs at \(base), but no token was found to ask it for a link: set FERRY_ADMIN_TOKEN, or run this where \(secretFile) is")
        }
        let reply = try http.execute(FerryHTTPClient.Request(
            method: "POST", url: base + "/api/v1/login-links", headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: [],
            timeout: .seconds(10)))
        switch reply.status {
        case 201:
            guard let link = (try? JSONDecoder().decode(JSONValue.self, from: Data(reply.body)))?["link"]?.string else {
                throw CommandFailure("the admin server at \(base) answered without a link")
            }
            return link
        case 401: throw CommandFailure("the admin server at \(base) refused the token (FERRY_ADMIN_TOKEN or \(secretFile)): it runs with another one")
        case 409: throw CommandFailure("the admin server at \(base) runs without a token: open \(base)/ without logging in")
        default: throw CommandFailure("the admin server at \(base) answered HTTP \(reply.status) when asked for a login link")
        }
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
        let entries = try FerryApplication.current.schedules(directory: schedules, knownTypes: Set(registry.types))
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
        // Enqueues from the API are async: concurrent requests share the dispatcher's I/O thread.
        let dispatcher = Dispatcher(configuration: try environment.redisConfiguration(), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        let families = FerryApplication.current.admin(AdminContext(registry: registry, environment: environment.values, postgres: postgres))
        return AdminServer(
            configuration: configuration, dispatcher: dispatcher, schedules: entries, postgresReady: postgresReady,
            resources: families.resources, actions: families.actions, knownTypes: registry.types, logger: Logger(label: "ferry.admin")
        )
    }
}
