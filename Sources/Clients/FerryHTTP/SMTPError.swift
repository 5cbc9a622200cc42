/// Why a message was not handed to the relay. Never carries the SMTP password.
public enum SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfiguration(String)
    /// The message itself is unusable (bad address, header injection, no recipient).
    case invalidMessage(String)
    case connectionFailed(server: String, reason: String)
    case timeout(server: String, after: Duration)
    /// The relay refused the user name and password.
    case authenticationFailed(server: String, reason: String)
    /// TLS was required but could not be set up, or the certificate did not verify.
    case tls(server: String, reason: String)
    /// The relay refused a recipient (`RCPT TO`), with its reply code (550 = no such mailbox).
    case recipientRejected(server: String, code: Int, reason: String)
    /// The relay refused the sender or the message, with its reply code.
    case rejected(server: String, code: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): return "invalid SMTP configuration: \(reason)"
        case .invalidMessage(let reason): return "invalid email: \(reason)"
        case .connectionFailed(let server, let reason): return "cannot connect to the mail relay \(server): \(reason)"
        case .timeout(let server, let after): return "the mail relay \(server) did not finish within \(after)"
        case .authenticationFailed(let server, let reason): return "the mail relay \(server) refused the credentials: \(reason)"
        case .tls(let server, let reason): return "TLS with the mail relay \(server) failed: \(reason)"
        case .recipientRejected(let server, let code, let reason): return "the mail relay \(server) rejected a recipient (\(code)): \(reason)"
        case .rejected(let server, let code, let reason): return "the mail relay \(server) rejected the message (\(code)): \(reason)"
        }
    }

    /// Failures where sending again later may succeed (4xx replies, network trouble).
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .timeout: return true
        case .recipientRejected(_, let code, _), .rejected(_, let code, _): return (400..<500).contains(code)
        default: return false
        }
    }
}
