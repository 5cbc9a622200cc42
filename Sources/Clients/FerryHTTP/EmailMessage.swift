import Foundation

/// A mailbox: an address with an optional display name.
public struct EmailAddress: Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var name: String?

    /// Validates the address enough to keep headers and the SMTP envelope safe.
    public init(_ address: String, name: String? = nil) throws(SMTPError) {
        let trimmed = address.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasSuffix("."),
              trimmed.utf8.count <= 254,
              !trimmed.contains(where: { $0.isWhitespace || $0.isNewline || "<>(),;:\"[]\\".contains($0) })
        else { throw .invalidMessage("'\(address.prefix(80))' is not an email address") }
        if let name, name.contains(where: \.isNewline) {
            throw .invalidMessage("the display name of \(trimmed) contains a line break")
        }
        self.address = trimmed
        self.name = name
    }

    public var description: String { address }

    /// The header form: `"Name" <address>` (RFC 2047-encoded when the name is not ASCII).
    var headerValue: String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        if name.allSatisfy({ $0.isASCII }) {
            let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\" <\(address)>"
        }
        return "\(MIME.encodedWord(name)) <\(address)>"
    }
}

/// An email to send with ``SMTPClient``: plain text, optionally with an HTML alternative.
public struct EmailMessage: Sendable {
    public var from: EmailAddress
    public var to: [EmailAddress]
    public var cc: [EmailAddress]
    /// Receives the message without appearing in its headers.
    public var bcc: [EmailAddress]
    public var replyTo: EmailAddress?
    public var subject: String
    public var text: String
    public var html: String?
    /// Extra headers (`List-Unsubscribe`, `X-Entity-Ref-ID`, …).
    public var headers: [(String, String)]
    /// Defaults to a new `<uuid@sender-domain>`; set it to make retries recognisable.
    public var messageID: String?

    public init(
        from: EmailAddress, to: [EmailAddress], cc: [EmailAddress] = [], bcc: [EmailAddress] = [],
        replyTo: EmailAddress? = nil, subject: String, text: String, html: String? = nil,
        headers: [(String, String)] = [], messageID: String? = nil
    ) {
        self.from = from
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
        self.messageID = messageID
    }

    /// Everyone the relay must deliver to.
    var envelopeRecipients: [EmailAddress] { to + cc + bcc }

    /// The message in RFC 5322 / MIME form with CRLF line ends; bodies are base64-encoded UTF-8.
    func rendered(date: Date = Date()) throws(SMTPError) -> (bytes: [UInt8], messageID: String) {
        guard !envelopeRecipients.isEmpty else { throw .invalidMessage("the message has no recipient") }
        for (name, value) in headers where name.contains(where: { $0.isNewline || $0 == ":" }) || value.contains(where: \.isNewline) {
            throw .invalidMessage("header '\(name.prefix(40))' contains a line break or colon")
        }
        let domain = from.address.split(separator: "@").last.map(String.init) ?? "localhost"
        let id = messageID ?? "<\(UUID().uuidString.lowercased())@\(domain)>"
        var lines = [
            "Date: \(MIME.date(date))",
            "From: \(from.headerValue)",
            "To: \(to.map(\.headerValue).joined(separator: ", "))",
        ]
        if !cc.isEmpty { lines.append("Cc: \(cc.map(\.headerValue).joined(separator: ", "))") }
        if let replyTo { lines.append("Reply-To: \(replyTo.headerValue)") }
        lines.append("Subject: \(MIME.encodedWord(subject))")
        lines.append("Message-ID: \(id)")
        lines.append("MIME-Version: 1.0")
        lines += headers.map { "\($0.0): \($0.1)" }
        if let html {
            let boundary = "ferry-\(UUID().uuidString.lowercased())"
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("--\(boundary)")
            lines += MIME.part(contentType: "text/plain; charset=utf-8", text: text)
            lines.append("--\(boundary)")
            lines += MIME.part(contentType: "text/html; charset=utf-8", text: html)
            lines.append("--\(boundary)--")
        } else {
            lines += MIME.part(contentType: "text/plain; charset=utf-8", text: text)
        }
        return (Array((lines.joined(separator: "\r\n") + "\r\n").utf8), id)
    }
}

/// The small pieces of MIME that outgoing mail needs.
enum MIME {
    /// A header value: as it is when ASCII, otherwise an RFC 2047 base64 encoded-word.
    static func encodedWord(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        guard !clean.allSatisfy({ $0.isASCII }) else { return clean }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    /// Headers and base64 body of one text part, lines at most 76 characters.
    static func part(contentType: String, text: String) -> [String] {
        let encoded = Data(text.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return ["Content-Type: \(contentType)", "Content-Transfer-Encoding: base64", "", encoded]
    }

    /// RFC 5322 date in UTC: `Tue, 24 Nov 2026 10:29:10 +0000`.
    static func date(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
