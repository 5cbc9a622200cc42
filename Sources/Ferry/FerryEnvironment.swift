import ArgumentParser
public import FerryPostgres
public import FerryQueue
public import FerryRedis
public import FerryWorker
import Foundation
public import Logging

/// Configuration from the environment (12-factor), as documented in the README: what every
/// `ferry` subcommand, a family's included, reads its settings from.
public struct FerryEnvironment: Sendable {
    /// The variables read (the process's environment, plus what ``setting(_:to:)`` set).
    public private(set) var values = ProcessInfo.processInfo.environment

    /// The process's environment.
    public init() {}

    /// This configuration with `name` set to `value`, also in the process's environment so that
    /// the processes it starts (workers) see it.
    public func setting(_ name: String, to value: String) -> FerryEnvironment {
        setenv(name, value, 1)
        var copy = self
        copy.values[name] = value
        return copy
    }

    /// `FERRY_REDIS_URL` (default `redis://127.0.0.1:6379`).
    public var redisURL: String { value("FERRY_REDIS_URL") ?? "redis://127.0.0.1:6379" }
    /// `DATABASE_URL`, when set.
    public var databaseURL: String? { value("DATABASE_URL") }
    /// `SMTP_URL`, when set.
    public var smtpURL: String? { value("SMTP_URL") }
    /// `FERRY_NAMESPACE` (default `ferry`): the prefix of every key, so fleets can share a Redis.
    public var namespace: String { value("FERRY_NAMESPACE") ?? "ferry" }
    /// The keys of ``namespace``.
    public var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }

    /// ``redisURL`` parsed; throws with the URL's problem (never its password).
    public func redisConfiguration() throws -> RedisConfiguration {
        try RedisConfiguration(url: redisURL)
    }

    /// A small Redis pool for commands that talk to Redis from the main thread.
    public func redisPool(capacity: Int = 2) throws -> RedisConnectionPool {
        RedisConnectionPool(configuration: try redisConfiguration(), capacity: capacity)
    }

    /// `FERRY_LOG_LEVEL` (`trace` … `critical`; default `info`).
    public var logLevel: Logger.Level {
        value("FERRY_LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
    }

    package var logFormat: FerryLogging.Format {
        value("FERRY_LOG_FORMAT").flatMap { FerryLogging.Format(rawValue: $0.lowercased()) } ?? .text
    }

    /// Sets up swift-log once for the process, at ``logLevel``, as text or JSON (`FERRY_LOG_FORMAT`).
    public func bootstrapLogging() {
        FerryLogging.bootstrap(level: logLevel, format: logFormat)
    }

    /// Every job type of the app's families, with `jobs/<type>.yml` applied.
    public func registry(jobsDirectory: String) throws -> JobRegistry {
        try FerryApplication.current.registry(jobsDirectory: jobsDirectory, testJobs: value("FERRY_TEST_JOBS") == "1")
    }

    private func value(_ name: String) -> String? {
        values[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension FerryEnvironment {
    /// A connection to `DATABASE_URL`, for the commands that read the jobs' tables.
    public static func database() throws -> PostgresConnection {
        guard let url = FerryEnvironment().databaseURL else {
            throw ValidationError("DATABASE_URL is not set (postgres://user:password@host:5432/database)")
        }
        return try PostgresConnection(url: url)
    }
}
