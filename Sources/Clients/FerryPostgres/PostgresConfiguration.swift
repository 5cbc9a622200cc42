import FerrySupport
import Foundation

/// Where and how to reach a PostgreSQL server.
///
/// Built from a URL: `postgres://user:password@host:port/database?sslmode=…&statement_timeout=30s`
/// (also `postgresql://`; `?host=/run/postgresql` for a Unix socket directory). The password is
/// kept out of ``description`` and out of every error message.
public struct PostgresConfiguration: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// libpq `sslmode` (`disable`, `prefer`, `require`, `verify-full`, …).
    public var sslMode: String
    public var applicationName: String
    public var connectTimeout: Duration
    /// Server-side `statement_timeout` for every statement on the connection; `nil` for none.
    public var statementTimeout: Duration?
    /// How long a broken connection keeps trying to reconnect, with backoff, before giving up.
    public var reconnectWindow: Duration
    /// Schemas searched for unqualified table names (`search_path`); `nil` for the server's default.
    public var searchPath: String?

    public init(
        host: String = "127.0.0.1",
        port: Int = 5432,
        user: String = "postgres",
        password: String? = nil,
        database: String = "postgres",
        sslMode: String = "prefer",
        applicationName: String = "ferry",
        connectTimeout: Duration = .seconds(5),
        statementTimeout: Duration? = nil,
        reconnectWindow: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.reconnectWindow = reconnectWindow
    }

    /// Parses a `postgres://` or `postgresql://` URL.
    public init(url string: String) throws(PostgresError) {
        let shown = Self.redact(string)
        guard let url = URLComponents(string: string), let scheme = url.scheme?.lowercased() else {
            throw .invalidURL(shown, reason: "not a URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .invalidURL(shown, reason: "unsupported scheme '\(scheme)', expected postgres://")
        }
        self.init()
        if let host = url.host, !host.isEmpty { self.host = host }
        if let port = url.port { self.port = port }
        if let user = url.user, !user.isEmpty { self.user = user.removingPercentEncoding ?? user }
        if let password = url.password { self.password = password.removingPercentEncoding ?? password }
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? self.user : (path.removingPercentEncoding ?? path)
        for item in url.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "host": host = value
            case "sslmode": sslMode = value
            case "application_name": applicationName = value
            case "user": user = value
            case "password": password = value
            case "search_path":
                guard value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "," }) else {
                    throw .invalidURL(shown, reason: "search_path must be schema names separated by commas")
                }
                searchPath = value
            case "connect_timeout":
                guard let duration = Self.duration(value) else {
                    throw .invalidURL(shown, reason: "connect_timeout must be seconds like 5 or 5s, got '\(value)'")
                }
                connectTimeout = duration
            case "statement_timeout":
                guard let duration = Self.duration(value) else {
                    throw .invalidURL(shown, reason: "statement_timeout must be like 30s or 500ms, got '\(value)'")
                }
                statementTimeout = duration
            default:
                throw .invalidURL(shown, reason: "unknown parameter '\(item.name)'")
            }
        }
    }

    public var description: String { "\(user)@\(host):\(port)/\(database)" }

    /// Where the server is, for error messages.
    public var endpoint: String { host.hasPrefix("/") ? "\(host)/.s.PGSQL.\(port)" : "\(host):\(port)" }

    /// libpq connection keywords and values.
    var connectionParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
            ("sslmode", sslMode), ("application_name", applicationName),
            ("connect_timeout", String(max(1, connectTimeout.components.seconds))),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }
        var options = "-c TimeZone=UTC -c DateStyle=ISO -c client_min_messages=warning"
        if let searchPath { options += " -c search_path=\(searchPath)" }
        if let statementTimeout {
            let (seconds, attoseconds) = statementTimeout.components
            options += " -c statement_timeout=\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)"
        }
        parameters.append(("options", options))
        return parameters
    }

    /// "30s", "500ms", "2m" or a bare number of seconds, at most a day; nil for anything else.
    static func duration(_ text: String) -> Duration? {
        Duration(parsing: text, maximum: 86_400)
    }

    /// The URL with its secrets (user-info password, `?password=`) replaced by `***`.
    static func redact(_ url: String) -> String { URLRedaction.redact(url) }
}
