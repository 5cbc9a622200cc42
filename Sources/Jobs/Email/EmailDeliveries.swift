public import FerryPostgres
import FerrySupport
public import Foundation

/// The delivery record of each mail and the suppression list, in PostgreSQL.
///
/// A mail is sent once per key: the record is written (`sending`) before the SMTP transaction and
/// marked `sent` the moment the relay accepts. A retry finds `sent` and sends nothing. The window
/// left is the time between the relay's acceptance and that update's commit (one local round
/// trip): a crash exactly there sends the mail again on the retry — with the same Message-ID, so
/// receiving systems can recognise the duplicate.
public enum EmailDeliveries {
    /// What the record says before sending.
    public enum Before: Sendable, Equatable {
        /// Not sent yet: go ahead.
        case send
        /// The relay already accepted this mail (at an earlier attempt).
        case alreadySent(messageID: String)
    }

    static let begin = """
        INSERT INTO email_deliveries (key, job_id, recipient, template, status, message_id)
        VALUES ($1, $2, $3, $4, 'sending', $5)
        ON CONFLICT (key) DO UPDATE
        SET attempts = email_deliveries.attempts + 1, updated_at = now(), job_id = EXCLUDED.job_id,
            status = CASE WHEN email_deliveries.status = 'sent' THEN 'sent' ELSE 'sending' END
        RETURNING status, message_id
        """

    public static func begin(
        key: String, jobID: String, recipient: String, template: String?, messageID: String, on db: PostgresConnection
    ) throws(PostgresError) -> Before {
        guard let row = try db.query(begin, [key, jobID, recipient, template, messageID]).first else { return .send }
        if try row.decode("status", as: String.self) == "sent" { return .alreadySent(messageID: try row.decode("message_id", as: String.self)) }
        return .send
    }

    public static func markSent(key: String, reply: String, on db: PostgresConnection) throws(PostgresError) {
        try db.query("UPDATE email_deliveries SET status = 'sent', server_reply = $2, sent_at = now(), updated_at = now() WHERE key = $1", [key, reply])
    }

    /// A permanent failure: the record says why, and the address is suppressed when the relay
    /// refused the recipient.
    public static func markFailed(key: String, reply: String, suppress address: String?, on db: PostgresConnection) throws {
        try db.transaction { tx in
            try tx.query("UPDATE email_deliveries SET status = 'failed', server_reply = $2, updated_at = now() WHERE key = $1", [key, reply])
            if let address {
                try tx.query("""
                    INSERT INTO email_suppressions (address, reason) VALUES (lower($1), $2)
                    ON CONFLICT (address) DO UPDATE SET reason = EXCLUDED.reason, created_at = now()
                    """, [address, reply])
            }
        }
    }

    /// A mail not sent because its address is suppressed.
    public static func markSkipped(key: String, jobID: String, recipient: String, template: String?, messageID: String, reason: String,
                                   on db: PostgresConnection) throws(PostgresError) {
        try db.query("""
            INSERT INTO email_deliveries (key, job_id, recipient, template, status, message_id, server_reply)
            VALUES ($1, $2, $3, $4, 'skipped', $5, $6)
            ON CONFLICT (key) DO UPDATE SET status = 'skipped', server_reply = EXCLUDED.server_reply, updated_at = now()
            WHERE email_deliveries.status <> 'sent'
            """, [key, jobID, recipient, template, messageID, reason])
    }

    /// Why `address` is suppressed, if it is.
    public static func suppression(of address: String, on db: PostgresConnection) throws(PostgresError) -> String? {
        try db.query("SELECT reason FROM email_suppressions WHERE address = lower($1)", [address]).first?.decode("reason", as: String.self)
    }

    /// A suppressed address with its reason.
    public struct Suppression: Sendable, Equatable {
        public var address: String
        public var reason: String
        public var since: Date
    }

    public static func suppressions(limit: Int = 1000, on db: PostgresConnection) throws(PostgresError) -> [Suppression] {
        try db.query("SELECT address, reason, created_at FROM email_suppressions ORDER BY created_at DESC LIMIT $1", [limit]).rows.map { row throws(PostgresError) in
            Suppression(address: try row.decode("address"), reason: try row.decode("reason"), since: try row.decode("created_at"))
        }
    }

    /// Lifts a suppression; false when the address was not suppressed.
    @discardableResult
    public static func lift(_ address: String, on db: PostgresConnection) throws(PostgresError) -> Bool {
        try db.query("DELETE FROM email_suppressions WHERE address = lower($1)", [address]).affectedRows > 0
    }

    /// A Message-ID derived from the idempotency key: the same mail always has the same id.
    static func messageID(key: String, domain: String) -> String {
        "<\(StableHash.hex128(key)).ferry@\(domain)>"
    }
}
