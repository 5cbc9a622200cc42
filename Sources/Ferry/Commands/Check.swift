import ArgumentParser
import FerryPostgres
import FerryRedis
import Foundation

/// `ferry check`: can this machine reach the Redis and PostgreSQL that Ferry is configured with?
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the configured Redis and PostgreSQL are reachable.",
        discussion: """
            Reads FERRY_REDIS_URL (default redis://127.0.0.1:6379) and DATABASE_URL (skipped when unset),
            connects to each, and prints the server version. Exits non-zero if either is unreachable.
            Passwords in the URLs are never printed.
            """
    )

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var failed = false

        let redisURL = environment["FERRY_REDIS_URL"] ?? "redis://127.0.0.1:6379"
        do {
            let configuration = try RedisConfiguration(url: redisURL)
            let connection = try RedisConnection(configuration: configuration)
            let info = try connection.command("INFO", "server").string ?? ""
            let version = info.split(whereSeparator: \.isNewline)
                .first { $0.hasPrefix("redis_version:") }?.dropFirst("redis_version:".count) ?? "unknown"
            print("redis      ok   \(configuration) (Redis \(version))")
        } catch {
            print("redis      FAIL \(error)")
            failed = true
        }

        if let databaseURL = environment["DATABASE_URL"], !databaseURL.isEmpty {
            do {
                let configuration = try PostgresConfiguration(url: databaseURL)
                let connection = try PostgresConnection(configuration: configuration)
                let version = try connection.query("SHOW server_version").first?.decode("server_version", as: String.self) ?? "unknown"
                print("postgres   ok   \(configuration) (PostgreSQL \(version))")
            } catch {
                print("postgres   FAIL \(error)")
                failed = true
            }
        } else {
            print("postgres   skip DATABASE_URL is not set")
        }
        if failed { throw ExitCode.failure }
    }
}
