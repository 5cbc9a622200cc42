import FerrySupport
import Foundation

/// Where and how to reach a Redis server.
///
/// Built from a URL: `redis://[[user]:password@]host[:port][/db]` or `unix:///path/to/socket[?db=N]`.
/// The password is kept out of ``description`` and out of every error message.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// The network endpoint of the server.
    public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            }
        }
    }

    public var endpoint: Endpoint
    /// ACL user name for `AUTH user password` (Redis 6+); `nil` sends `AUTH password`.
    public var username: String?
    public var password: String?
    /// Logical database selected after connecting (`SELECT`).
    public var database: Int
    /// Time allowed to establish a TCP connection.
    public var connectTimeout: Duration
    /// Socket read/write timeout of ordinary commands. Blocking commands extend it by their block time.
    public var commandTimeout: Duration
    /// How long a connection keeps trying to reconnect, with backoff, before a command gives up.
    public var reconnectWindow: Duration

    public init(
        endpoint: Endpoint = .tcp(host: "127.0.0.1", port: 6379),
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(5),
        reconnectWindow: Duration = .seconds(10)
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectWindow = reconnectWindow
    }

    /// Parses a `redis://` or `unix://` URL.
    public init(url string: String) throws(RedisError) {
        guard let url = URLComponents(string: string), let scheme = url.scheme?.lowercased() else {
            throw .invalidURL(Self.redact(string), reason: "not a URL")
        }
        self.init()
        switch scheme {
        case "redis":
            guard let host = url.host, !host.isEmpty else {
                throw .invalidURL(Self.redact(string), reason: "missing host")
            }
            endpoint = .tcp(host: host, port: url.port ?? 6379)
            let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else {
                    throw .invalidURL(Self.redact(string), reason: "database must be a number, got '\(path)'")
                }
                database = db
            }
        case "unix":
            guard !url.path.isEmpty else { throw .invalidURL(Self.redact(string), reason: "missing socket path") }
            endpoint = .unix(path: url.path)
        case "rediss":
            throw .invalidURL(Self.redact(string), reason: "TLS (rediss://) is not supported by the hiredis build in use")
        default:
            throw .invalidURL(Self.redact(string), reason: "unsupported scheme '\(scheme)', expected redis:// or unix://")
        }
        if let user = url.user, !user.isEmpty { username = user.removingPercentEncoding ?? user }
        if let pass = url.password { password = pass.removingPercentEncoding ?? pass }
        if username != nil, password == nil { (username, password) = (nil, username) }
        for item in url.queryItems ?? [] {
            switch item.name {
            case "db":
                guard let value = item.value, let db = Int(value), db >= 0 else {
                    throw .invalidURL(Self.redact(string), reason: "db must be a number")
                }
                database = db
            case "timeout":
                guard let value = item.value, let seconds = Double(value), seconds > 0,
                      let timeout = Duration(checkedSeconds: seconds, maximum: 86_400)
                else {
                    throw .invalidURL(Self.redact(string), reason: "timeout must be a number of seconds up to 86400")
                }
                commandTimeout = timeout
            default:
                throw .invalidURL(Self.redact(string), reason: "unknown parameter '\(item.name)'")
            }
        }
    }

    public var description: String {
        var text = endpoint.description
        if database != 0 { text += " db \(database)" }
        return text
    }

    /// The URL with its secrets replaced by `***`.
    static func redact(_ url: String) -> String { URLRedaction.redact(url) }
}
