/// Everything that can go wrong talking to Redis, with a message a person can act on.
///
/// No case ever carries a password.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration URL could not be understood.
    case invalidURL(String, reason: String)
    /// No connection could be made (refused, unreachable, DNS).
    case connectionFailed(endpoint: String, reason: String)
    /// An established connection broke (server closed it, restart, network). The next command reconnects.
    case connectionLost(endpoint: String, reason: String)
    /// No answer within the socket timeout.
    case timeout(endpoint: String, after: Duration)
    /// AUTH was refused.
    case authenticationFailed(endpoint: String, reason: String)
    /// The server answered with an error reply (`ERR …`, `WRONGTYPE …`, `NOSCRIPT …`).
    case server(String)
    /// The server's reply did not have the shape the caller expected.
    case unexpectedReply(expected: String, got: String)
    /// A command that blocks or changes its connection's state was sent over a shared
    /// connection (``RedisMultiplexer``); it was not sent.
    case notShareable(command: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "invalid Redis URL '\(url)': \(reason)"
        case .connectionFailed(let endpoint, let reason):
            return "cannot connect to Redis at \(endpoint): \(reason)"
        case .connectionLost(let endpoint, let reason):
            return "lost connection to Redis at \(endpoint): \(reason)"
        case .timeout(let endpoint, let after):
            return "Redis at \(endpoint) did not answer within \(after)"
        case .authenticationFailed(let endpoint, let reason):
            return "Redis at \(endpoint) refused authentication: \(reason)"
        case .server(let message):
            return "Redis error: \(message)"
        case .unexpectedReply(let expected, let got):
            return "unexpected Redis reply: expected \(expected), got \(got)"
        case .notShareable(let command):
            return "\(command) blocks or changes the state of the connection it runs on, so it cannot go over the shared connection; "
                + "run it on a connection of its own (redis.withConnection { … })"
        }
    }

    /// The error code of a server error reply (`NOSCRIPT`, `WRONGTYPE`, `ERR`, …).
    public var serverErrorCode: Substring? {
        guard case .server(let message) = self else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }

    /// True when the connection itself is gone, so a new attempt may succeed.
    public var isConnectionError: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .timeout: return true
        default: return false
        }
    }
}

extension RedisError {
    /// `error` as a Redis error: itself, or — a pool that lent no connection in time, say — a
    /// connection failure whose reason is that error's message.
    public init(wrapping error: any Error) {
        if let redis = error as? RedisError {
            self = redis
        } else {
            self = .connectionFailed(endpoint: "the connection pool", reason: "\(error)")
        }
    }
}
