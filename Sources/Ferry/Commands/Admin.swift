import ArgumentParser
import FerryAdmin
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
            resources: families.resources, actions: families.actions, logger: Logger(label: "ferry.admin")
        )
    }
}
