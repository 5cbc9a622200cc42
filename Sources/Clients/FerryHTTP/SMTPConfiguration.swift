import FerrySupport
import Foundation

/// Where and how to reach a mail relay.
///
/// Built from `SMTP_URL`: `smtp://[user:password@]host[:port][?starttls=required|optional|never]`
/// (STARTTLS on port 587 by default, required when credentials are given) or
/// `smtps://user:password@host[:465]` (TLS from the first byte). The password is kept out of
/// ``description`` and every error message.
public struct SMTPConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// When to encrypt an `smtp://` connection with STARTTLS.
    public enum StartTLS: String, Sendable {
        /// Refuse to talk (and to send credentials) without TLS.
        case required
        /// Use STARTTLS when the server offers it.
        case optional
        /// Plain text; only for a relay on loopback or a trusted network.
        case never
    }

    public var host: String
    public var port: Int
    public var implicitTLS: Bool
    public var startTLS: StartTLS
    public var username: String?
    public var password: String?
    /// Verify the server's certificate and host name (on unless `?verify=false`).
    public var verifyTLS: Bool
    public var timeout: Duration

    public init(
        host: String, port: Int = 587, implicitTLS: Bool = false, startTLS: StartTLS = .optional,
        username: String? = nil, password: String? = nil, verifyTLS: Bool = true, timeout: Duration = .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.implicitTLS = implicitTLS
        self.startTLS = startTLS
        self.username = username
        self.password = password
        self.verifyTLS = verifyTLS
        self.timeout = timeout
    }

    public init(url string: String) throws(SMTPError) {
        let shown = redactedURL(string)
        guard let url = URLComponents(string: string), let scheme = url.scheme?.lowercased(),
              let host = url.host, !host.isEmpty
        else { throw .invalidConfiguration("'\(shown)' is not an SMTP URL like smtp://user:password@host:587") }
        switch scheme {
        case "smtp": self.init(host: host, port: url.port ?? 587)
        case "smtps": self.init(host: host, port: url.port ?? 465, implicitTLS: true)
        default: throw .invalidConfiguration("unsupported scheme '\(scheme)' in '\(shown)', expected smtp:// or smtps://")
        }
        username = url.user.map { $0.removingPercentEncoding ?? $0 }
        password = url.password.map { $0.removingPercentEncoding ?? $0 }
        if password != nil, !implicitTLS { startTLS = .required }
        for item in url.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "starttls":
                guard let mode = StartTLS(rawValue: value) else {
                    throw .invalidConfiguration("starttls must be required, optional or never, got '\(value)'")
                }
                startTLS = mode
            case "verify":
                guard let flag = Bool(value) else { throw .invalidConfiguration("verify must be true or false, got '\(value)'") }
                verifyTLS = flag
            case "timeout":
                guard let seconds = Double(value), seconds > 0, let checked = Duration(checkedSeconds: seconds, maximum: 86_400) else {
                    throw .invalidConfiguration("timeout must be a number of seconds up to 86400, got '\(value)'")
                }
                timeout = checked
            default:
                throw .invalidConfiguration("unknown parameter '\(item.name)' in '\(shown)'")
            }
        }
    }

    public var description: String { "\(implicitTLS ? "smtps" : "smtp")://\(host):\(port)" }
}
