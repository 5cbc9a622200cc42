import Ferry
public import FerryWorker
public import FerryPostgres
public import FerryHTTP
import FerrySupport
import FerryQueue
import Foundation

/// `trades.import {"user_id": 42, "source": "alice/ib-2026.csv", "profile": "interactive-brokers"}`:
/// one broker CSV export into `trades` for one user — streamed, validated, idempotent, resumable.
///
/// The file is read in 256 KiB blocks and parsed as the bytes come (``CSVParser``); accepted rows
/// are COPYed, 10,000 at a time, into a temporary staging table and moved into `trades` by one
/// `INSERT … SELECT … ON CONFLICT DO NOTHING`, in the transaction that also records the refused
/// rows (`import_errors`) and the checkpoint (`imports.bytes_done`). A retry of the job resumes
/// at the checkpoint. Each trade's key is the broker's trade id where the layout has one, else a
/// hash of the normalized row and its occurrence number in the file, unique per user: the same
/// file twice adds nothing. When the refused share passes `max_rejected_share` (default 0.5) the
/// import stops, the trades it added are removed again, and the job goes dead saying so; so does
/// any other failure retrying cannot mend (a header no profile reads, a file that is gone), and the
/// `imports` row says `failed` with the reason. Rows the profile's `only`/`skip` rules name as no
/// trades (deposits, dividends) are counted as skipped. A finished import enqueues
/// `analytics.rollup` (unique).
public struct TradesImport: JobHandler {
    public static let type = "trades.import"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "imports", maxAttempts: 5, timeout: .seconds(7200))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var userID: Int64
        public var source: String
        public var profile: String?

        enum CodingKeys: String, CodingKey {
            case source, profile
            case userID = "user_id"
        }

        /// Imports `source` (a path under the import root, or an http(s) URL) for `userID`, with
        /// `profile` or the one whose headers match.
        public init(userID: Int64, source: String, profile: String? = nil) {
            self.userID = userID
            self.source = source
            self.profile = profile
        }
    }

    /// Rows per transaction (and per checkpoint).
    static let chunkRows = 10_000

    /// The summary of an import.
    public struct Summary: Sendable, Equatable, Encodable {
        public var importID: Int64
        public var profile: String
        public var accepted: Int
        public var rejected: Int
        public var duplicates: Int
        /// Rows that are not trades by the profile's rules (deposits, dividends, fees).
        public var skipped: Int
        public var bytes: Int64

        enum CodingKeys: String, CodingKey {
            case profile, accepted, rejected, duplicates, skipped, bytes
            case importID = "import_id"
        }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let root = ProcessInfo.processInfo.environment["FERRY_IMPORT_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? ".ferry/imports"
        let source: any ImportSource
        if Self.isURL(arguments.source) {
            source = HTTPImportSource(url: arguments.source, client: try context.services.require(HTTPService.self, for: Self.type), timeout: context.settings.timeout)
        } else {
            source = FileImportSource(path: try Self.resolve(arguments.source, root: root), name: arguments.source)
        }
        let profiles = ImportProfile.load(directory: Self.profilesDirectory(context.settings))
        for (name, invalid) in profiles.refused.sorted(by: { $0.key < $1.key }) {
            context.logger.warning("an import profile was refused", metadata: ["profile": "\(name)", "reason": "\(invalid.description)"])
        }
        let threshold = context.settings.parameters["max_rejected_share"]?.double ?? 0.5
        guard threshold.isFinite, (0...1).contains(threshold) else { throw PermanentJobError("parameters.max_rejected_share must be from 0 to 1") }
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let summary = try pool.withConnection { db in
            try Self.run(
                source, userID: arguments.userID, profileName: arguments.profile, profiles: profiles.profiles, refused: profiles.refused,
                jobID: context.id, maxRejectedShare: threshold, on: db
            ) { done, total, accepted in
                context.reportProgress(done: Int(done), total: total.map { Int($0) }, message: "\(accepted) trades imported")
                try context.checkCancellation()
            }
        }
        try context.enqueue(AnalyticsRollup.self, .init(), options: .init(uniqueKey: "rollup-after-import"))
        try context.setResult(summary)
    }

    /// The profiles folder: `parameters.profiles` (absolute, or relative to the folder the job
    /// settings are read from, `--jobs-dir`), by default `<jobs dir>/trades.import`.
    static func profilesDirectory(_ settings: JobSettings) -> String {
        let base = settings.directory ?? "jobs"
        guard let written = settings.parameters["profiles"]?.string, !written.isEmpty else { return base + "/trades.import" }
        return written.hasPrefix("/") ? written : base + "/" + written
    }

    static func isURL(_ source: String) -> Bool {
        let lowered = source.prefix(8).lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// The file under `root` that `source` names; paths that leave the root are refused.
    public static func resolve(_ source: String, root: String) throws -> String {
        guard !source.isEmpty, !source.hasPrefix("/"), !source.split(separator: "/").contains("..") else {
            throw PermanentJobError("source must be an http(s):// URL or a path inside the import root, without '..' or a leading '/': '\(source.prefix(200))'")
        }
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath()
        let file = rootURL.appendingPathComponent(source).standardizedFileURL.resolvingSymlinksInPath()
        guard file.path.hasPrefix(rootURL.path + "/") else {
            throw PermanentJobError("'\(source.prefix(200))' leads out of the import root \(root) (a symbolic link?)")
        }
        guard FileManager.default.fileExists(atPath: file.path) else { throw PermanentJobError("no file '\(source.prefix(200))' under the import root \(root)") }
        return file.path
    }

    static let begin = """
        INSERT INTO imports (job_id, user_id, source, profile, status, bytes_total)
        VALUES ($1, $2, $3, $4, 'running', $5)
        ON CONFLICT (job_id) DO UPDATE SET bytes_total = EXCLUDED.bytes_total
        RETURNING id, status, bytes_done, lines_done, accepted, rejected, duplicates, skipped, profile
        """

    /// A failed import run again (its dead job retried) starts over: its trades were removed when it failed.
    static let restart = """
        WITH cleared AS (DELETE FROM import_errors WHERE import_id = $1), counts AS (DELETE FROM import_row_counts WHERE import_id = $1)
        UPDATE imports SET status = 'running', accepted = 0, rejected = 0, duplicates = 0, skipped = 0, bytes_done = 0, lines_done = 0,
                           error = NULL, finished_at = NULL
        WHERE id = $1
        """

    /// A failure retrying cannot mend: the import's trades are removed and the row says why.
    static let fail = """
        WITH removed AS (DELETE FROM trades WHERE import_id = $1 AND user_id = $2 RETURNING 1)
        UPDATE imports SET status = 'failed', finished_at = now(),
                           error = $3 || CASE WHEN (SELECT count(*) FROM removed) > 0
                                              THEN ' (the ' || (SELECT count(*) FROM removed) || ' trades it had added were removed)' ELSE '' END
        WHERE id = $1
        RETURNING (SELECT count(*) FROM removed)::bigint AS removed, error
        """

    static let createStaging = """
        CREATE TEMP TABLE IF NOT EXISTS import_staging (
            line bigint, row_hash text, trade_id text, symbol text, side text, quantity numeric, entry_price numeric,
            exit_price numeric, pnl numeric, fees numeric, currency text, opened_local timestamp, closed_local timestamp,
            opened_zone text, closed_zone text, fees_currency text
        ) ON COMMIT DELETE ROWS
        """

    /// Moves the staged chunk into `trades`: keys from broker ids or from the row hash and its
    /// occurrence number in the file (counted across chunks in `import_row_counts`).
    static let moveChunk = """
        WITH ranked AS (
            SELECT s.*, row_number() OVER (PARTITION BY s.row_hash ORDER BY s.line) AS rank FROM import_staging s
        ), keyed AS (
            SELECT r.*, CASE WHEN r.trade_id IS NOT NULL THEN 'id:' || $4 || ':' || r.trade_id
                             ELSE 'h:' || r.row_hash || ':' || (r.rank + COALESCE(c.seen, 0)) END AS key
            FROM ranked r
            LEFT JOIN import_row_counts c ON r.trade_id IS NULL AND c.import_id = $2 AND c.row_hash = r.row_hash
        ), inserted AS (
            INSERT INTO trades (user_id, symbol, side, quantity, entry_price, exit_price, pnl, fees, fees_currency, currency, opened_at, closed_at, trade_key, import_id)
            SELECT $1, symbol, side, quantity, entry_price, exit_price, pnl, fees, fees_currency, currency,
                   opened_local AT TIME ZONE COALESCE(opened_zone, $3), closed_local AT TIME ZONE COALESCE(closed_zone, $3), key, $2
            FROM keyed ORDER BY line
            ON CONFLICT (user_id, trade_key) WHERE trade_key IS NOT NULL DO NOTHING
            RETURNING 1
        ), counted AS (
            INSERT INTO import_row_counts (import_id, row_hash, seen)
            SELECT $2, row_hash, count(*) FROM import_staging WHERE trade_id IS NULL GROUP BY row_hash
            ON CONFLICT (import_id, row_hash) DO UPDATE SET seen = import_row_counts.seen + EXCLUDED.seen
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM inserted)::int AS inserted, (SELECT count(*) FROM import_staging)::int AS staged,
               (SELECT count(*) FROM counted)::int AS hashes
        """

    /// ``moveChunk`` for a chunk whose rows all carry the broker's trade id: no occurrence
    /// numbers to count, so no window function and no `import_row_counts`.
    static let moveChunkByID = """
        WITH inserted AS (
            INSERT INTO trades (user_id, symbol, side, quantity, entry_price, exit_price, pnl, fees, fees_currency, currency, opened_at, closed_at, trade_key, import_id)
            SELECT $1, symbol, side, quantity, entry_price, exit_price, pnl, fees, fees_currency, currency,
                   opened_local AT TIME ZONE COALESCE(opened_zone, $3), closed_local AT TIME ZONE COALESCE(closed_zone, $3), 'id:' || $4 || ':' || trade_id, $2
            FROM import_staging ORDER BY line
            ON CONFLICT (user_id, trade_key) WHERE trade_key IS NOT NULL DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM inserted)::int AS inserted, (SELECT count(*) FROM import_staging)::int AS staged
        """

    static let checkpoint = """
        UPDATE imports SET accepted = accepted + $2, duplicates = duplicates + $3, rejected = rejected + $4, skipped = skipped + $8,
                           bytes_done = $5, lines_done = $6, profile = $7
        WHERE id = $1
        """

    /// Imports the file at `path`; resumes the import of `jobID` when there is one. `progress` gets
    /// bytes done, bytes in all and trades accepted after each chunk.
    public static func run(
        path: String, source: String, userID: Int64, profileName: String?, profilesDirectory: String, jobID: String,
        maxRejectedShare: Double = 0.5, on db: PostgresConnection, progress: (Int64, Int64?, Int) throws -> Void = { _, _, _ in }
    ) throws -> Summary {
        let loaded = ImportProfile.load(directory: profilesDirectory)
        return try run(FileImportSource(path: path, name: source), userID: userID, profileName: profileName, profiles: loaded.profiles, refused: loaded.refused,
                jobID: jobID, maxRejectedShare: maxRejectedShare, on: db, progress: progress)
    }

    /// Imports what `url` answers (streamed, resumed with a `Range` request); otherwise as above.
    public static func run(
        url: String, client: FerryHTTPClient, userID: Int64, profileName: String?, profilesDirectory: String, jobID: String,
        maxRejectedShare: Double = 0.5, on db: PostgresConnection, progress: (Int64, Int64?, Int) throws -> Void = { _, _, _ in }
    ) throws -> Summary {
        let loaded = ImportProfile.load(directory: profilesDirectory)
        return try run(HTTPImportSource(url: url, client: client, timeout: .seconds(600)), userID: userID, profileName: profileName,
                profiles: loaded.profiles, refused: loaded.refused, jobID: jobID, maxRejectedShare: maxRejectedShare, on: db, progress: progress)
    }

    /// The longest header line read.
    static let headerLimit = 64 * 1024

    static func run(
        _ source: any ImportSource, userID: Int64, profileName: String?, profiles: [ImportProfile], refused: [String: ImportProfile.Invalid] = [:],
        jobID: String, maxRejectedShare: Double, on db: PostgresConnection, progress: (Int64, Int64?, Int) throws -> Void
    ) throws -> Summary {
        let (prefix, size) = try source.prefix(headerLimit)
        guard !prefix.isEmpty else { throw PermanentJobError("'\(source.name)' is empty: not even a header") }
        guard var row = try db.query(begin, [jobID, userID, source.name, profileName, size]).first else { throw PermanentJobError("could not record the import") }
        let importID = try row.decode("id", as: Int64.self)
        switch try row.decode("status", as: String.self) {
        case "succeeded":
            return try summary(of: row, importID: importID, bytes: size ?? 0)
        case "failed":
            try db.transaction { tx in try tx.query(restart, [importID]) }
            row = try db.query(begin, [jobID, userID, source.name, profileName, size]).first ?? row
        default: break
        }
        do {
            return try resume(
                source, importID: importID, row: row, size: size, prefix: prefix, userID: userID, profileName: profileName, profiles: profiles,
                refused: refused, maxRejectedShare: maxRejectedShare, on: db, progress: progress
            )
        } catch let error as PermanentJobError {
            // Retrying cannot mend it: the import is failed, and takes back what it added.
            let failed = try db.transaction { tx in try tx.query(fail, [importID, userID, error.message]).first }
            throw PermanentJobError(try failed?.decode("error", as: String?.self) ?? error.message)
        }
    }

    private static func summary(of row: PostgresRow, importID: Int64, bytes: Int64) throws -> Summary {
        Summary(
            importID: importID, profile: try row.decode("profile", as: String?.self) ?? "", accepted: try row.decode("accepted", as: Int.self),
            rejected: try row.decode("rejected", as: Int.self), duplicates: try row.decode("duplicates", as: Int.self),
            skipped: try row.decode("skipped", as: Int.self), bytes: bytes
        )
    }

    /// The import from its checkpoint (or its header) to the end of the source.
    private static func resume(
        _ source: any ImportSource, importID: Int64, row: PostgresRow, size: Int64?, prefix: [UInt8], userID: Int64, profileName: String?,
        profiles: [ImportProfile], refused: [String: ImportProfile.Invalid], maxRejectedShare: Double, on db: PostgresConnection,
        progress: (Int64, Int64?, Int) throws -> Void
    ) throws -> Summary {
        var summary = try summary(of: row, importID: importID, bytes: size ?? 0)
        summary.profile = profileName ?? ""
        let resumeAt = try row.decode("bytes_done", as: Int64.self)
        let resumeLine = try row.decode("lines_done", as: Int.self)
        // The checkpoint and counts are read back from the table: out of range means someone else wrote them.
        let counts = [summary.accepted, summary.rejected, summary.duplicates, summary.skipped]
        guard (0...(size ?? 1 << 50)).contains(resumeAt), (0...(1 << 40)).contains(resumeLine), counts.allSatisfy({ (0...(1 << 50)).contains($0) }) else {
            throw PermanentJobError("import \(importID) has a checkpoint out of range (bytes_done \(resumeAt), lines_done \(resumeLine)); delete its row to start over")
        }

        // The header first (always from the top), to know the layout.
        let wholeFile = prefix.count < headerLimit || size == Int64(prefix.count)
        if let profileName, let invalid = refused[profileName] {
            throw PermanentJobError("profile '\(profileName)' is invalid: \(invalid.description)")
        }
        let candidates = profileName.map { name in profiles.filter { $0.name == name } } ?? profiles
        if let profileName, candidates.isEmpty {
            throw PermanentJobError("no profile '\(profileName)'; known: \(profiles.map(\.name).joined(separator: ", "))")
        }
        guard let found = findHeader(prefix, wholeFile: wholeFile, profiles: candidates) else {
            guard let header = readHeader(prefix, wholeFile: wholeFile) else {
                throw PermanentJobError(wholeFile ? "'\(source.name)' has no header line" : "'\(source.name)' has no header line within its first \(headerLimit / 1024) KiB")
            }
            let names = header.fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
            var message = "the header does not match \(profileName.map { "profile '\($0)'" } ?? "any profile"): columns found: \(names.map { "'\($0.prefix(40))'" }.joined(separator: ", ")); profiles tried: \(candidates.map(\.name).joined(separator: ", "))"
            if profileName == nil, !refused.isEmpty { message += "; profiles refused as invalid: \(refused.keys.sorted().joined(separator: ", "))" }
            throw PermanentJobError(message)
        }
        let profile = found.profile
        summary.profile = profile.name
        let start = max(resumeAt, found.header.endOffset)
        let startLine = resumeAt > 0 ? resumeLine + 1 : found.header.nextLine
        // A thread of its own reads and parses the next chunk while this one stores the last.
        let chunks = ChunkHandoff<ParsedChunk>(capacity: 1)
        let producerDone = DispatchSemaphore(value: 0)
        let parse = ChunkParser(source: source, profile: profile, layout: found.layout, start: start, startLine: startLine, chunks: chunks)
        Thread.detachNewThread {
            parse.run()
            producerDone.signal()
        }
        defer {
            chunks.cancel()
            producerDone.wait()
        }
        while let chunk = try chunks.take() {
            let (accepted, duplicates) = try commit(chunk, importID: importID, userID: userID, profile: profile, on: db)
            summary.accepted += accepted
            summary.duplicates += duplicates
            summary.rejected += chunk.rejections.count
            summary.skipped += chunk.skipped
            summary.bytes = chunk.offset
            let processed = summary.accepted + summary.duplicates + summary.rejected
            if processed >= 20, Double(summary.rejected) / Double(processed) > maxRejectedShare {
                throw PermanentJobError("stopped: \(summary.rejected) of \(processed) rows refused, over the \(Int(maxRejectedShare * 100))% limit (see import_errors for import \(importID))")
            }
            try progress(chunk.offset, size, summary.accepted)
        }
        try db.query("UPDATE imports SET status = 'succeeded', bytes_total = $2, finished_at = now() WHERE id = $1", [importID, summary.bytes])
        try db.query("DELETE FROM import_row_counts WHERE import_id = $1", [importID])
        return summary
    }

    /// Stages and moves one chunk, records its refused rows and the checkpoint, in one transaction.
    static func commit(_ chunk: ParsedChunk, importID: Int64, userID: Int64, profile: ImportProfile, on db: PostgresConnection) throws -> (accepted: Int, duplicates: Int) {
        try db.transaction { tx in
            var accepted = 0, duplicates = 0
            if !chunk.rows.isEmpty {
                try tx.query(createStaging)
                _ = try tx.copy("COPY import_staging FROM STDIN") { writer in
                    for row in chunk.rows {
                        try writer.writeRow([
                            String(row.line), row.tradeID == nil ? StableHash.hex128(row.fingerprint) : nil, row.tradeID, row.symbol, row.side, row.quantity, row.entryPrice,
                            row.exitPrice, row.pnl, row.fees, row.currency, row.openedAt, row.closedAt, row.openedZone, row.closedZone, row.feesCurrency,
                        ])
                    }
                }
                let allByID = chunk.rows.allSatisfy { $0.tradeID != nil }
                let moved = try tx.query(allByID ? moveChunkByID : moveChunk, [userID, importID, profile.timeZone, profile.name]).first
                accepted = try moved?.decode("inserted", as: Int.self) ?? 0
                duplicates = (try moved?.decode("staged", as: Int.self) ?? 0) - accepted
            }
            if !chunk.rejections.isEmpty {
                _ = try tx.copy("COPY import_errors (import_id, line, column_name, raw_value, reason) FROM STDIN") { writer in
                    for rejection in chunk.rejections {
                        try writer.writeRow([String(importID), String(rejection.line), rejection.column, rejection.raw, rejection.reason])
                    }
                }
            }
            try tx.query(checkpoint, [importID, accepted, duplicates, chunk.rejections.count, chunk.offset, chunk.line, profile.name, chunk.skipped])
            return (accepted, duplicates)
        }
    }

    /// Where a profile finds its header.
    struct HeaderMatch {
        var profile: ImportProfile
        var layout: ImportProfile.Layout
        var header: CSVRecord
    }

    /// The records searched for a header: exports put titles, account numbers and blank lines above it.
    static let headerSearchRecords = 100

    /// The profile that reads `bytes`: the one whose header comes first; of two on the same line,
    /// the one that finds more of its columns (then the first by name).
    static func findHeader(_ bytes: [UInt8], wholeFile: Bool, profiles: [ImportProfile]) -> HeaderMatch? {
        var recordsByDelimiter: [UInt8: [CSVRecord]] = [:]
        var best: (match: HeaderMatch, index: Int, bound: Int)?
        for profile in profiles {
            let records = recordsByDelimiter[profile.delimiter] ?? {
                var parser = CSVParser(delimiter: profile.delimiter)
                var records: [CSVRecord] = []
                bytes.withUnsafeBytes { parser.feed($0, into: &records) }
                if wholeFile { parser.finish(into: &records) }
                recordsByDelimiter[profile.delimiter] = records
                return records
            }()
            for (index, record) in records.prefix(headerSearchRecords).enumerated() where record.error == nil {
                if let best, index > best.index { break }
                guard let layout = profile.match(header: profile.headerNames(record)) else { continue }
                if best == nil || index < best!.index || layout.boundCount > best!.bound {
                    best = (HeaderMatch(profile: profile, layout: layout, header: record), index, layout.boundCount)
                }
                break
            }
        }
        return best?.match
    }

    /// The first record of `bytes` read with the first delimiter that splits it (only its field
    /// names matter, and only if they match a profile).
    static func readHeader(_ bytes: [UInt8], wholeFile: Bool) -> CSVRecord? {
        for delimiter in [UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t"), UInt8(ascii: "|")] {
            if let header = firstRecord(bytes, delimiter: delimiter, wholeFile: wholeFile), header.fields.count > 1 || delimiter == UInt8(ascii: "|") {
                return header
            }
        }
        return nil
    }

    private static func firstRecord(_ bytes: [UInt8], delimiter: UInt8, wholeFile: Bool) -> CSVRecord? {
        var parser = CSVParser(delimiter: delimiter)
        var records: [CSVRecord] = []
        bytes.withUnsafeBytes { parser.feed($0, into: &records) }
        if records.isEmpty && wholeFile { parser.finish(into: &records) }
        return records.first
    }
}
