import Foundation

/// Where the test services started by `ops/test` (through `ops/services`) listen.
///
/// Tests run against real servers. Run them with `ops/test`, which starts Redis, PostgreSQL and
/// the local HTTP and SMTP test servers and exports these variables; the defaults match
/// `ops/services`' default ports, so `ops/services start` followed by `swift test` works too.
public enum TestEnvironment {
    public static var redisURL: String { value("FERRY_TEST_REDIS_URL", default: "redis://127.0.0.1:16379/0") }
    public static var postgresURL: String {
        value("FERRY_TEST_DATABASE_URL", default: "postgres://ferry:ferry@127.0.0.1:15432/ferry_test")
    }
    public static var httpURL: String { value("FERRY_TEST_HTTP_URL", default: "http://127.0.0.1:18080") }
    public static var smtpURL: String { value("FERRY_TEST_SMTP_URL", default: "smtp://127.0.0.1:12525") }
    /// Path of the `redis-server` binary, for tests that need a private server to restart.
    public static var redisServer: String { value("FERRY_TEST_REDIS_SERVER", default: "/usr/bin/redis-server") }

    /// The built `ferry` executable (ops/test builds it and sets FERRY_TEST_FERRY_BIN).
    public static var ferryBinary: String {
        value("FERRY_TEST_FERRY_BIN", default: FileManager.default.currentDirectoryPath + "/.build/debug/ferry")
    }

    /// A Python with the real Celery client installed (ops/setup makes `.ferry/celery-venv`).
    public static var celeryPython: String {
        value("FERRY_TEST_CELERY_PYTHON", default: FileManager.default.currentDirectoryPath + "/.ferry/celery-venv/bin/python")
    }

    private static func value(_ name: String, default fallback: String) -> String {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }
}
