import ArgumentParser
import FerryJobs
import FerryPostgres
import FerryQueue
import FerryRedis
import FerryWorker
import Foundation
import Logging

/// Configuration from the environment (12-factor), as documented in the README.
struct FerryEnvironment {
    private(set) var values = ProcessInfo.processInfo.environment

    /// This configuration with `name` set to `value`, also in the process's environment so that
    /// the processes it starts (workers) see it.
    func setting(_ name: String, to value: String) -> FerryEnvironment {
        setenv(name, value, 1)
        var copy = self
        copy.values[name] = value
        return copy
    }

    var redisURL: String { value("FERRY_REDIS_URL") ?? "redis://127.0.0.1:6379" }
    var databaseURL: String? { value("DATABASE_URL") }
    var smtpURL: String? { value("SMTP_URL") }
    var namespace: String { value("FERRY_NAMESPACE") ?? "ferry" }
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }

    func redisConfiguration() throws -> RedisConfiguration {
        try RedisConfiguration(url: redisURL)
    }

    /// A small Redis pool for commands that talk to Redis from the main thread.
    func redisPool(capacity: Int = 2) throws -> RedisConnectionPool {
        RedisConnectionPool(configuration: try redisConfiguration(), capacity: capacity)
    }

    var logLevel: Logger.Level {
        value("FERRY_LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
    }

    var logFormat: FerryLogging.Format {
        value("FERRY_LOG_FORMAT").flatMap { FerryLogging.Format(rawValue: $0.lowercased()) } ?? .text
    }

    func bootstrapLogging() {
        FerryLogging.bootstrap(level: logLevel, format: logFormat)
    }

    /// Every job type this build of Ferry knows, with `jobs/<type>.yml` applied.
    func registry(jobsDirectory: String) throws -> JobRegistry {
        var registry = JobRegistry(settingsDirectory: jobsDirectory)
        try JobCatalog.register(in: &registry, testJobs: value("FERRY_TEST_JOBS") == "1")
        return registry
    }

    private func value(_ name: String) -> String? {
        values[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension FerryEnvironment {
    /// A connection to `DATABASE_URL`, for the commands that read the jobs' tables.
    static func database() throws -> PostgresConnection {
        guard let url = FerryEnvironment().databaseURL else {
            throw ValidationError("DATABASE_URL is not set (postgres://user:password@host:5432/database)")
        }
        return try PostgresConnection(url: url)
    }
}
