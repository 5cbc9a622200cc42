/// Why an HTTP exchange produced no response. URLs in messages never carry credentials.
public enum FerryHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRequest(String)
    /// The host name did not resolve.
    case unknownHost(url: String, reason: String)
    /// Nothing accepted the connection (refused, unreachable).
    case connectionFailed(url: String, reason: String)
    /// No complete response within the request's timeout.
    case timeout(url: String, after: Duration)
    /// The TLS handshake or certificate verification failed.
    case tls(url: String, reason: String)
    /// The response body exceeded the client's limit.
    case responseTooLarge(url: String, limit: Int)
    /// Any other transfer failure, with curl's code and reason.
    case transport(url: String, code: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidRequest(let reason): return "invalid HTTP request: \(reason)"
        case .unknownHost(let url, let reason): return "cannot resolve the host of \(url): \(reason)"
        case .connectionFailed(let url, let reason): return "cannot connect to \(url): \(reason)"
        case .timeout(let url, let after): return "\(url) did not answer within \(after)"
        case .tls(let url, let reason): return "TLS failure talking to \(url): \(reason)"
        case .responseTooLarge(let url, let limit): return "the response from \(url) is larger than \(limit) bytes"
        case .transport(let url, let code, let reason): return "HTTP transfer to \(url) failed (curl \(code)): \(reason)"
        }
    }

    /// Failures where trying again later may succeed.
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .timeout, .transport: return true
        default: return false
        }
    }
}
