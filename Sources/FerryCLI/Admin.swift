import ArgumentParser
import FerryAdmin
import FerryPostgres
import FerryQueue
import FerryScheduler
import Foundation
import Logging
import Synchronization

/// `ferry admin`: the admin HTTP endpoint.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admin dashboard (/), JSON API (/api/v1), /healthz, /readyz and /metrics.",
        discussion: """
            Listens on FERRY_ADMIN_ADDR (default 127.0.0.1:7480). With FERRY_ADMIN_TOKEN set, every route
            but /healthz needs Authorization: Bearer <token>; off loopback a token is required.
            """
    )

    @Option(help: "Directory of schedules/*.yml files (for GET /api/v1/schedules).")
    var schedules: String = "schedules"

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    func run() throws {
        let environment = FerryEnvironment()
        environment.bootstrapLogging()
        let registry = try environment.registry(jobsDirectory: jobsDir)
        let configuration = try AdminServer.Configuration(
            address: environment.values["FERRY_ADMIN_ADDR"] ?? "127.0.0.1:7480", token: environment.values["FERRY_ADMIN_TOKEN"])
        try configuration.validate()
        let entries = FileManager.default.fileExists(atPath: schedules)
            ? try ScheduleFile.load(directory: schedules, knownTypes: Set(registry.types)) : []
        var postgresReady: (@Sendable () -> String?)?
        if let databaseURL = environment.databaseURL {
            let postgres = try PostgresConfiguration(url: databaseURL)
            postgresReady = {
                do {
                    try PostgresConnection(configuration: postgres).query("SELECT 1")
                    return nil
                } catch {
                    return "\(error)"
                }
            }
        }
        let dispatcher = Dispatcher(redis: try environment.redisPool(capacity: 8), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        let server = AdminServer(
            configuration: configuration, dispatcher: dispatcher, schedules: entries, postgresReady: postgresReady,
            logger: Logger(label: "ferry.admin")
        )
        // The other commands are synchronous and handle signals on a thread of their own, which
        // needs the root command to stay synchronous; the server's async work runs in a task while
        // this thread waits. Hummingbird's service group handles SIGTERM/SIGINT itself.
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await server.run() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
