import Ferry
import FerryHTTP
import FerryRedis
import Foundation

/// What the statement blocks of the docs use without defining it: the app's `dispatcher` and a
/// `redis` connection (to the Redis at FERRY_REDIS_URL, namespace FERRY_NAMESPACE), and, for the
/// addresses of the author's machine that a block names, the local stand-ins the harness gives.
struct DocScope {
    let dispatcher: Dispatcher
    let redis: RedisConnection
    let redisURL: String
    let databaseURL: String
    let httpURL: String
    let smtpURL: String

    struct Unconfigured: Error, CustomStringConvertible {
        let variable: String
        var description: String { "\(variable) is not set (ops/doc_examples.py sets it)" }
    }

    static func fromEnvironment() throws -> DocScope {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else { throw Unconfigured(variable: name) }
            return value
        }
        let redisURL = try value("FERRY_REDIS_URL")
        let configuration = try RedisConfiguration(url: redisURL)
        return DocScope(
            dispatcher: Dispatcher(configuration: configuration, keys: QueueKeyspace(namespace: environment["FERRY_NAMESPACE"] ?? "ferry")),
            redis: try RedisConnection(configuration: configuration),
            redisURL: redisURL,
            databaseURL: try value("DATABASE_URL"),
            httpURL: try value("DOC_EXAMPLES_HTTP_URL"),
            smtpURL: try value("SMTP_URL"))
    }

    struct UnknownSnippet: Error, CustomStringConvertible {
        let name: String
        var description: String { "no block named \(name): \(DocScope.snippets.keys.sorted().joined(separator: ", "))" }
    }

    func run(_ name: String) throws {
        guard let snippet = Self.snippets[name] else { throw UnknownSnippet(name: name) }
        try snippet(self)
    }
}
