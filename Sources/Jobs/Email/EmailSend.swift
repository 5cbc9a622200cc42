import Ferry
public import FerryWorker
import FerryHTTP
import FerryPostgres
public import FerryQueue
import Foundation

/// `email.send`: one mail over SMTP, from a template or given text, sent once.
///
/// ```json
/// {"to": "Alice <alice@example.com>", "template": "comment", "locale": "de",
///  "vars": {"name": "Alice", "post": "…"}, "idempotency_key": "comment:991"}
/// ```
///
/// Settings (`jobs/email.send.yml` `parameters:`): `from` (the sender, required), `templates`
/// (the templates folder, default `jobs/email/templates`), `default_locale` (`en`),
/// `allowed_headers` (extra headers a job may set). A `rate:` there holds across the fleet.
///
/// Outcomes: accepted → the delivery is recorded `sent`, the result names the Message-ID; the
/// address suppressed → not sent, the result says why; a connection error or a 4xx reply →
/// retried with backoff; a 5xx reply for the recipient → dead with the relay's reply, and the
/// address suppressed; an unknown template, a missing variable, a bad address or header, wrong
/// credentials or a TLS failure → dead with the reason (never the password).
public struct EmailSend: JobHandler {
    public static let type = "email.send"
    public static let requiredServices = [RequiredService(SMTPService.self), RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "mail", maxAttempts: 8, backoff: Backoff(base: .seconds(30), max: .seconds(3600)), timeout: .seconds(60))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var to: String
        public var template: String?
        public var vars: JSONValue?
        public var subject: String?
        public var text: String?
        public var html: String?
        public var locale: String?
        public var replyTo: String?
        public var headers: [String: String]?
        public var idempotencyKey: String?

        enum CodingKeys: String, CodingKey {
            case to, template, vars, subject, text, html, locale, headers
            case replyTo = "reply_to"
            case idempotencyKey = "idempotency_key"
        }

        /// A message from `template` (with `vars`), or from `subject` and `text`/`html` given here.
        public init(
            to: String, template: String? = nil, vars: JSONValue? = nil, subject: String? = nil, text: String? = nil, html: String? = nil,
            locale: String? = nil, replyTo: String? = nil, headers: [String: String]? = nil, idempotencyKey: String? = nil
        ) {
            self.to = to
            self.template = template
            self.vars = vars
            self.subject = subject
            self.text = text
            self.html = html
            self.locale = locale
            self.replyTo = replyTo
            self.headers = headers
            self.idempotencyKey = idempotencyKey
        }
    }

    /// Headers a job may set when `allowed_headers` does not say otherwise.
    static let defaultAllowedHeaders = ["X-Entity-Ref-ID", "X-Campaign", "List-Id"]

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let parameters = context.settings.parameters
        guard let fromText = parameters["from"]?.string else {
            throw PermanentJobError("email.send needs parameters.from (the sender) in jobs/email.send.yml")
        }
        let from = try Self.mailbox(fromText, what: "parameters.from")
        let to = try Self.mailbox(arguments.to, what: "to")
        let replyTo = try arguments.replyTo.map { try Self.mailbox($0, what: "reply_to") }
        let key = arguments.idempotencyKey ?? "job:\(context.id)"
        guard !key.isEmpty, key.utf8.count <= 200 else { throw PermanentJobError("idempotency_key must be 1 to 200 bytes") }

        // The content: a template, or explicit subject and text.
        let rendered: EmailTemplates.Rendered
        if let template = arguments.template {
            let templates = EmailTemplates(
                directory: parameters["templates"]?.string ?? "jobs/email/templates", defaultLocale: parameters["default_locale"]?.string ?? "en"
            )
            do {
                rendered = try templates.render(template, locale: arguments.locale, variables: arguments.vars ?? .object([:]))
            } catch {
                throw PermanentJobError(error.description)
            }
        } else {
            guard let subject = arguments.subject, let text = arguments.text else {
                throw PermanentJobError("give a template (with vars), or subject and text")
            }
            rendered = .init(subject: subject, text: text, html: arguments.html, listUnsubscribe: nil)
        }
        var headers: [(String, String)] = []
        let allowed = parameters["allowed_headers"]?.elements?.compactMap(\.string) ?? Self.defaultAllowedHeaders
        for (name, value) in (arguments.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard allowed.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw PermanentJobError("header '\(name.prefix(60))' is not allowed (allowed: \(allowed.joined(separator: ", ")))")
            }
            headers.append((name, value))
        }
        if let unsubscribe = rendered.listUnsubscribe {
            headers.append(("List-Unsubscribe", "<\(unsubscribe)>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        }
        let domain = from.address.split(separator: "@").last.map(String.init) ?? "localhost"
        let messageID = EmailDeliveries.messageID(key: key, domain: domain)
        let message = EmailMessage(
            from: from, to: [to], replyTo: replyTo, subject: rendered.subject, text: rendered.text, html: rendered.html,
            headers: headers, messageID: messageID
        )

        let smtp = try context.services.require(SMTPService.self, for: Self.type)
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        try pool.withConnection { db in
            if let reason = try EmailDeliveries.suppression(of: to.address, on: db) {
                try EmailDeliveries.markSkipped(key: key, jobID: context.id, recipient: to.address, template: arguments.template, messageID: messageID,
                                                reason: "suppressed: \(reason)", on: db)
                context.logger.notice("not sent: the address is suppressed", metadata: ["reason": "\(reason)"])
                try context.setResult(["status": .string("skipped"), "reason": .string("the address is suppressed: \(reason)")] as [String: JSONValue])
                return
            }
            if case .alreadySent(let id) = try EmailDeliveries.begin(
                key: key, jobID: context.id, recipient: to.address, template: arguments.template, messageID: messageID, on: db
            ) {
                try context.setResult(["status": .string("sent"), "message_id": .string(id), "note": .string("accepted at an earlier attempt; not sent again")] as [String: JSONValue])
                return
            }
            let receipt: SMTPClient.Receipt
            do {
                receipt = try smtp.send(message)
            } catch let error as SMTPError {
                if error.isTransient { throw error }
                let suppress: String?
                if case .recipientRejected(_, let code, _) = error, (500..<600).contains(code) { suppress = to.address } else { suppress = nil }
                try EmailDeliveries.markFailed(key: key, reply: error.description, suppress: suppress, on: db)
                throw PermanentJobError(error.description)
            }
            try EmailDeliveries.markSent(key: key, reply: "accepted by \(smtp.configuration) for \(receipt.recipients.joined(separator: ", "))", on: db)
            try context.setResult(["status": .string("sent"), "message_id": .string(receipt.messageID)] as [String: JSONValue])
        }
    }

    /// `alice@example.com` or `Alice Example <alice@example.com>`.
    static func mailbox(_ text: String, what: String) throws -> EmailAddress {
        do {
            if let open = text.lastIndex(of: "<"), text.hasSuffix(">") {
                let name = text[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                let address = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
                return try EmailAddress(address, name: name.isEmpty ? nil : name)
            }
            return try EmailAddress(text)
        } catch {
            throw PermanentJobError("\(what): \(error.description)")
        }
    }
}

/// `email.unsuppress {"address": A}`: lifts the suppression of an address, so mail to it is sent
/// again — what an admin enqueues from the admin API (`POST /api/v1/jobs`); `ferry email
/// unsuppress` does the same from the terminal.
public struct EmailUnsuppress: JobHandler {
    public static let type = "email.unsuppress"
    public static let defaultSettings = JobSettings(queue: "mail", maxAttempts: 3)

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var address: String
        public init(address: String) { self.address = address }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let lifted = try pool.withConnection { try EmailDeliveries.lift(arguments.address, on: $0) }
        try context.setResult(["address": .string(arguments.address), "lifted": .bool(lifted)] as [String: JSONValue])
    }
}
