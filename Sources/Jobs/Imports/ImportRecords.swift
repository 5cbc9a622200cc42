public import FerryPostgres
public import Foundation

/// Reading the `imports` table and an import's refused rows (`ferry imports`).
public enum ImportRecords {
    /// One import as recorded.
    public struct Import: Sendable, Equatable, Encodable {
        public var id: Int64
        public var jobID: String
        public var userID: Int64
        public var source: String
        public var profile: String?
        public var status: String
        public var accepted: Int64
        public var rejected: Int64
        public var duplicates: Int64
        /// Rows that are not trades by the profile's rules.
        public var skipped: Int64
        public var bytesDone: Int64
        public var bytesTotal: Int64?
        public var startedAt: Date
        public var finishedAt: Date?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case id, source, profile, status, accepted, rejected, duplicates, skipped, error
            case jobID = "job_id", userID = "user_id", bytesDone = "bytes_done", bytesTotal = "bytes_total"
            case startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    /// A refused row.
    public struct RefusedRow: Sendable, Equatable, Encodable {
        public var line: Int64
        public var column: String?
        public var rawValue: String?
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case line, column, reason
            case rawValue = "raw_value"
        }
    }

    /// One import with its first refused rows.
    public struct Detail: Sendable, Equatable, Encodable {
        public var `import`: Import
        public var refusedRows: [RefusedRow]

        enum CodingKeys: String, CodingKey {
            case `import`
            case refusedRows = "refused_rows"
        }
    }

    /// Import `id` with its first `limit` refused rows, or nil when there is none.
    public static func detail(id: Int64, limit: Int = 100, on db: PostgresConnection) throws(PostgresError) -> Detail? {
        guard let found = try imports(id: id, on: db).first else { return nil }
        return Detail(import: found, refusedRows: try refusedRows(importID: id, limit: limit, on: db))
    }

    static let columns = """
        id, job_id, user_id, source, profile, status, accepted, rejected, duplicates, skipped, bytes_done, bytes_total, started_at, finished_at, error
        """

    /// The newest imports (those older than id `before`, when given), or one import by id.
    public static func imports(id: Int64? = nil, limit: Int = 50, before: Int64? = nil, on db: PostgresConnection) throws(PostgresError) -> [Import] {
        let rows: [PostgresRow]
        if let id {
            rows = try db.query("SELECT \(columns) FROM imports WHERE id = $1", [id]).rows
        } else {
            rows = try db.query("SELECT \(columns) FROM imports WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1", [limit, before]).rows
        }
        return try rows.map { row throws(PostgresError) in
            Import(
                id: try row.decode("id"), jobID: try row.decode("job_id"), userID: try row.decode("user_id"), source: try row.decode("source"),
                profile: try row.decode("profile"), status: try row.decode("status"), accepted: try row.decode("accepted"),
                rejected: try row.decode("rejected"), duplicates: try row.decode("duplicates"), skipped: try row.decode("skipped"), bytesDone: try row.decode("bytes_done"),
                bytesTotal: try row.decode("bytes_total"), startedAt: try row.decode("started_at"), finishedAt: try row.decode("finished_at"),
                error: try row.decode("error")
            )
        }
    }

    /// An import's refused rows in file order (at most `limit`).
    public static func refusedRows(importID: Int64, limit: Int = 100, on db: PostgresConnection) throws(PostgresError) -> [RefusedRow] {
        try db.query(
            "SELECT line, column_name, raw_value, reason FROM import_errors WHERE import_id = $1 ORDER BY line LIMIT $2", [importID, limit]
        ).rows.map { row throws(PostgresError) in
            RefusedRow(line: try row.decode("line"), column: try row.decode("column_name"), rawValue: try row.decode("raw_value"), reason: try row.decode("reason"))
        }
    }
}
