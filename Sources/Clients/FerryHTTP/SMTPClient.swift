import CCurl
import CCurlShim

/// Sends email through a relay over SMTP with libcurl: AUTH, STARTTLS or implicit TLS.
///
/// `send` blocks its thread: call it from dedicated threads, not from async tasks.
public final class SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    /// Idle handles kept, one per sender at once: libcurl keeps a handle's SMTP connection open
    /// and reuses it for the next mail (10 mails in a row through one client: one TCP connection).
    private let handles = CurlHandleCache(limit: 16)

    public init(configuration: SMTPConfiguration) {
        self.configuration = configuration
    }

    /// A client for `SMTP_URL`-style URLs (see ``SMTPConfiguration/init(url:)``).
    public convenience init(url: String) throws(SMTPError) {
        self.init(configuration: try SMTPConfiguration(url: url))
    }

    /// What the relay accepted.
    public struct Receipt: Sendable, Equatable {
        public var messageID: String
        public var recipients: [String]
    }

    /// Hands `message` to the relay; returns once the relay has accepted it for every recipient.
    @discardableResult
    public func send(_ message: EmailMessage) throws(SMTPError) -> Receipt {
        let (bytes, messageID) = try message.rendered()
        let recipients = message.envelopeRecipients.map(\.address)
        let result: Result<Void, SMTPError> = handles.withHandle { handle in
            Result { () throws(SMTPError) in try perform(bytes, from: message.from.address, to: recipients, on: handle) }
        }
        try result.get()
        return Receipt(messageID: messageID, recipients: recipients)
    }

    private func perform(_ bytes: [UInt8], from sender: String, to recipients: [String], on handle: CurlHandle) throws(SMTPError) {
        let server = configuration.description
        let source = CurlUploadSource(bytes)
        let recipientList = CurlStringList(recipients.map { "<\($0)>" })
        let scheme = configuration.implicitTLS ? "smtps" : "smtp"
        handle.set(CURLOPT_URL, "\(scheme)://\(configuration.host):\(configuration.port)")
        handle.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        handle.set(CURLOPT_MAIL_FROM, "<\(sender)>")
        handle.set(CURLOPT_MAIL_RCPT, list: recipientList)
        handle.set(CURLOPT_UPLOAD, 1)
        handle.set(CURLOPT_INFILESIZE_LARGE, offset: Int64(bytes.count))
        handle.set(CURLOPT_READFUNCTION, callback: CurlUploadSource.read)
        handle.set(CURLOPT_READDATA, pointer: Unmanaged.passUnretained(source).toOpaque())
        handle.set(CURLOPT_TIMEOUT_MS, configuration.timeout.curlMilliseconds)
        handle.set(CURLOPT_CONNECTTIMEOUT_MS, min(configuration.timeout, .seconds(10)).curlMilliseconds)
        handle.set(CURLOPT_SSL_VERIFYPEER, configuration.verifyTLS ? 1 : 0)
        handle.set(CURLOPT_SSL_VERIFYHOST, configuration.verifyTLS ? 2 : 0)
        if !configuration.implicitTLS {
            switch configuration.startTLS {
            case .required: handle.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
            case .optional: handle.set(CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue))
            case .never: handle.set(CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue))
            }
        }
        if let username = configuration.username { handle.set(CURLOPT_USERNAME, username) }
        if let password = configuration.password { handle.set(CURLOPT_PASSWORD, password) }

        let (code, reason) = handle.perform()
        withExtendedLifetime(source) {}
        withExtendedLifetime(recipientList) {}
        guard code != CURLE_OK else { return }
        let reply = handle.info(CURLINFO_RESPONSE_CODE)
        switch code {
        case CURLE_LOGIN_DENIED:
            throw .authenticationFailed(server: server, reason: reason)
        case CURLE_OPERATION_TIMEDOUT:
            throw .timeout(server: server, after: configuration.timeout)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST:
            throw .connectionFailed(server: server, reason: reason)
        case CURLE_USE_SSL_FAILED, CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            throw .tls(server: server, reason: reason)
        default:
            if reason.hasPrefix("RCPT") {
                throw .recipientRejected(server: server, code: reply, reason: reason)
            }
            throw .rejected(server: server, code: reply, reason: reason)
        }
    }
}
