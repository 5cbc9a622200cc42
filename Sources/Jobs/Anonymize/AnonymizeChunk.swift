import Ferry
public import FerryWorker
import FerryAnonymizer
import FerryPostgres
import FerryQueue
import Foundation

/// `anonymize.chunk {"run_id": 7, "chunk": 3}`: one chunk of an `anonymize.batch` run.
///
/// A table chunk pages through its key range (`key > last ORDER BY key LIMIT n`, never OFFSET)
/// and writes each page — through a temporary table and one UPDATE or INSERT … ON CONFLICT —
/// in the transaction that moves its checkpoint and counts: a chunk killed midway resumes after
/// its last written page, so even in-place anonymization never runs twice over a row. A file
/// chunk reads its byte range and writes its own part file (replaced whole if it runs again).
public struct AnonymizeChunk: JobHandler {
    /// The first key of a chunk's advisory lock, for run `$1`: the run named with the schema it
    /// lives in (hashed to the lock's 32 bits); the chunk number is the second key.
    static let lockKey = "hashtext(current_schema() || '.anonymize_runs/' || $1::bigint)"

    public static let type = "anonymize.chunk"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "anonymize", maxAttempts: 5, timeout: .seconds(3600))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var runID: Int64
        public var chunk: Int

        enum CodingKeys: String, CodingKey {
            case chunk
            case runID = "run_id"
        }

        public init(runID: Int64, chunk: Int) {
            self.runID = runID
            self.chunk = chunk
        }
    }

    /// Rows read and written per transaction.
    static let pageRows = 2_000
    /// Rejected rows kept with their reason per chunk (the rest are counted).
    static let keptErrors = 20

    struct ChunkState {
        var lower: Int64
        var upper: Int64
        var firstLine: Int64
        var lastKey: Int64?
        var rows: Int64
        var bytes: Int64
        var rejected: Int64
        var findings: [String: Int]
        var errors: [RejectedRow]
        var done: Bool
    }

    struct RejectedRow: Codable, Sendable, Equatable {
        var line: Int64
        var reason: String
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        try pool.withConnection { db in
            guard let run = try db.query("SELECT plan, config, status FROM anonymize_runs WHERE id = $1", [arguments.runID]).first else {
                throw PermanentJobError("no anonymize run \(arguments.runID)")
            }
            guard let first = try Self.load(run: arguments.runID, chunk: arguments.chunk, db: db) else {
                throw PermanentJobError("run \(arguments.runID) has no chunk \(arguments.chunk)")
            }
            if first.done { return }
            // One runner per chunk: a session lock (released below, or with the connection), then
            // the done flag read again under it. A second job for the chunk (a batch enqueued twice,
            // a worker presumed dead that still runs) waits for the first and then finds it done.
            // Advisory locks are the database's, not the schema's: the run is named with its schema
            // (Self.lockKey), so deployments sharing a database never wait on each other's chunks.
            let lockKeys: [any PostgresEncodable] = [arguments.runID, Int32(truncatingIfNeeded: arguments.chunk)]
            while try db.query("SELECT pg_try_advisory_lock(\(Self.lockKey), $2::int) AS locked", lockKeys).first?.decode("locked", as: Bool.self) != true {
                context.reportProgress(done: 0, message: "waiting for another job writing this chunk")
                try context.sleep(for: .seconds(1))
            }
            defer { _ = try? db.query("SELECT pg_advisory_unlock(\(Self.lockKey), $2::int)", lockKeys) }
            guard var state = try Self.load(run: arguments.runID, chunk: arguments.chunk, db: db), !state.done else { return }
            let plan = try run.decode("plan", as: PostgresJSON.self).decode(as: AnonymizePlan.self)
            let configuration = try AnonymizerConfiguration.decode(json: Array(try run.decode("config", as: PostgresJSON.self).text.utf8))
            let anonymizer: Anonymizer
            do {
                anonymizer = try Anonymizer(configuration: configuration, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw PermanentJobError("\(error)")
            }
            var rewriter = RecordRewriter(anonymizer: anonymizer, tally: state.findings)
            switch plan {
            case .table(let table):
                try Self.runTable(table, run: arguments.runID, chunk: arguments.chunk, state: &state, rewriter: &rewriter, db: db, context: context)
            case .file(let file):
                try Self.runFile(file, run: arguments.runID, chunk: arguments.chunk, state: &state, rewriter: &rewriter, db: db, context: context)
            }
            try context.setResult(["rows": state.rows, "bytes": state.bytes, "rejected": state.rejected])
        }
    }

    static func load(run: Int64, chunk: Int, db: PostgresConnection) throws -> ChunkState? {
        guard let row = try db.query("""
            SELECT lower_bound, upper_bound, first_line, last_key, rows, bytes, rejected, findings, errors, done
            FROM anonymize_chunks WHERE run_id = $1 AND chunk = $2
            """, [run, chunk]).first else { return nil }
        let state = ChunkState(
            lower: try row.decode("lower_bound"), upper: try row.decode("upper_bound"), firstLine: try row.decode("first_line"),
            lastKey: try row.decode("last_key", as: Int64?.self), rows: try row.decode("rows"), bytes: try row.decode("bytes"),
            rejected: try row.decode("rejected"),
            findings: (try? row.decode("findings", as: PostgresJSON.self).decode(as: [String: Int].self)) ?? [:],
            errors: (try? row.decode("errors", as: PostgresJSON.self).decode(as: [RejectedRow].self)) ?? [],
            done: try row.decode("done")
        )
        // The row is read back from a table anyone with access can write: every number is checked
        // before it is used in arithmetic (a trap would take the whole worker process down).
        let width = state.upper.subtractingReportingOverflow(state.lower)
        let counts = [state.rows, state.bytes, state.rejected]
        guard state.lower > Int64.min, !width.overflow, width.partialValue > 0, (1...(1 << 50)).contains(state.firstLine),
              counts.allSatisfy({ (0...(1 << 50)).contains($0) }), state.findings.values.allSatisfy({ (0...(1 << 50)).contains($0) }),
              state.lastKey.map({ $0 >= state.lower - 1 && $0 < state.upper }) ?? true
        else {
            throw PermanentJobError("chunk \(chunk) of run \(run) has numbers out of range (bounds \(state.lower)…\(state.upper), last key \(state.lastKey.map(String.init) ?? "none")); delete the run to start over")
        }
        return state
    }

    static let saveState = """
        UPDATE anonymize_chunks SET last_key = $3, rows = $4, bytes = $5, rejected = $6, findings = $7, errors = $8, done = $9, updated_at = now()
        WHERE run_id = $1 AND chunk = $2
        """

    static func save(_ state: ChunkState, run: Int64, chunk: Int, tally: [String: Int], db: PostgresConnection) throws {
        try db.query(saveState, [
            run, chunk, state.lastKey, state.rows, state.bytes, state.rejected,
            try PostgresJSON(encoding: tally), try PostgresJSON(encoding: state.errors), state.done,
        ])
    }

    // MARK: Tables

    static func runTable(
        _ table: AnonymizePlan.TablePlan, run: Int64, chunk: Int, state: inout ChunkState, rewriter: inout RecordRewriter,
        db: PostgresConnection, context: JobContext
    ) throws {
        let selected = table.columns.enumerated().map { "\($1)::text AS c\($0)" }.joined(separator: ", ")
        let read = "SELECT \(table.key)::bigint AS k, \(selected) FROM \(table.relation) WHERE \(table.key) > $1 AND \(table.key) < $2 ORDER BY \(table.key) LIMIT \(pageRows)"
        let staging = "anonymize_staging_\(table.columns.count)"
        let stagingColumns = table.columns.indices.map { "c\($0)" }
        try db.query("CREATE TEMP TABLE IF NOT EXISTS \(staging) (k bigint, \(stagingColumns.map { "\($0) text" }.joined(separator: ", "))) ON COMMIT DELETE ROWS")
        let write: String
        if table.separateTable {
            let assignments = table.targetColumns.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
            write = """
                INSERT INTO \(table.targetRelation) (\(table.key), \(table.targetColumns.joined(separator: ", ")))
                SELECT k, \(stagingColumns.joined(separator: ", ")) FROM \(staging)
                ON CONFLICT (\(table.key)) DO UPDATE SET \(assignments)
                """
        } else {
            let assignments = zip(table.targetColumns, stagingColumns).map { "\($0) = s.\($1)" }.joined(separator: ", ")
            write = "UPDATE \(table.relation) AS t SET \(assignments) FROM \(staging) AS s WHERE t.\(table.key) = s.k"
        }
        let total = max(1, state.upper - state.lower)
        var output: [UInt8] = []
        while true {
            try context.checkCancellation()
            let after = state.lastKey ?? (state.lower - 1)
            let page = try db.query(read, [after, state.upper])
            if page.rows.isEmpty { break }
            var values: [[String?]] = []
            values.reserveCapacity(page.rows.count)
            var lastKey = after
            var bytes: Int64 = 0
            for row in page.rows {
                lastKey = try row.decode("k")
                var record: [String?] = [String(lastKey)]
                for column in table.columns.indices {
                    guard var text = try row.decode("c\(column)", as: String?.self) else { record.append(nil); continue }
                    output.removeAll(keepingCapacity: true)
                    bytes += Int64(text.utf8.count)
                    text.withUTF8 { rewriter.anonymize($0, into: &output) }
                    record.append(String(decoding: output, as: UTF8.self))
                }
                values.append(record)
            }
            state.lastKey = lastKey
            state.rows += Int64(page.rows.count)
            state.bytes += bytes
            let snapshot = state
            try db.transaction { db in
                try db.copy("COPY \(staging) (k, \(stagingColumns.joined(separator: ", "))) FROM STDIN") { writer in
                    for record in values { try writer.writeRow(record) }
                }
                try db.query(write)
                try save(snapshot, run: run, chunk: chunk, tally: rewriter.tally, db: db)
            }
            context.reportProgress(done: Int(lastKey - state.lower + 1), total: Int(total), message: "\(state.rows) rows anonymized")
            if page.rows.count < pageRows { break }
        }
        state.done = true
        try save(state, run: run, chunk: chunk, tally: rewriter.tally, db: db)
    }

    // MARK: Files

    /// Where a chunk's part of the output is written until `anonymize.finish` joins the parts.
    static func partPath(_ file: AnonymizePlan.FilePlan, run: Int64, chunk: Int) -> String {
        "\(file.target).parts-\(run)/\(String(format: "%08d", chunk)).part"
    }

    static func runFile(
        _ file: AnonymizePlan.FilePlan, run: Int64, chunk: Int, state: inout ChunkState, rewriter: inout RecordRewriter,
        db: PostgresConnection, context: JobContext
    ) throws {
        guard state.lower >= 0, state.upper - state.lower <= 1 << 31 else { throw PermanentJobError("chunk \(chunk) is not a byte range of at most 2 GiB") }
        guard let handle = FileHandle(forReadingAtPath: file.source) else { throw PermanentJobError("cannot open \(file.name) (moved or deleted since the run started?)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(state.lower))
        let input = [UInt8](try handle.read(upToCount: Int(state.upper - state.lower)) ?? Data())
        guard input.count == Int(state.upper - state.lower) else { throw PermanentJobError("\(file.name) is shorter than when the run started") }
        // Counts start over: the part is written whole each time.
        rewriter = RecordRewriter(anonymizer: rewriter.anonymizer)
        state.rows = 0
        state.rejected = 0
        state.errors = []
        var output: [UInt8] = []
        output.reserveCapacity(input.count + input.count / 4)
        func reject(_ line: Int64, _ reason: String) {
            state.rejected += 1
            if state.errors.count < keptErrors { state.errors.append(RejectedRow(line: line, reason: reason)) }
        }
        switch file.format {
        case .jsonl:
            let fields = file.fields.map { Set($0.map { Array($0.utf8) }) }
            var line = state.firstLine
            input.withUnsafeBufferPointer { bytes in
                var start = 0
                while start < bytes.count {
                    var end = start
                    while end < bytes.count, bytes[end] != 0x0A { end += 1 }
                    var lineEnd = end
                    if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    if lineEnd > start {
                        let text = UnsafeBufferPointer(rebasing: bytes[start..<lineEnd])
                        if text.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                            if let reason = rewriter.rewriteJSONLine(text, fields: fields, into: &output) {
                                reject(line, reason)
                            } else {
                                output.append(0x0A)
                                state.rows += 1
                            }
                        }
                    }
                    line += 1
                    start = end + 1
                }
            }
        case .csv:
            var parser = CSVParser(delimiter: file.delimiter, offset: state.lower, line: Int(state.firstLine))
            var records: [CSVRecord] = []
            parser.feed(input, into: &records)
            parser.finish(into: &records)
            let columns = file.columns.map(Set.init)
            for record in records {
                if let error = record.error {
                    reject(Int64(record.line), error)
                } else {
                    rewriter.rewriteCSV(record.fields, columns: columns, delimiter: file.delimiter, into: &output)
                    state.rows += 1
                }
            }
        }
        state.bytes = Int64(input.count)
        let path = partPath(file, run: run, chunk: chunk)
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(output), attributes: [.posixPermissions: 0o600]) else {
            throw PermanentJobError("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw PermanentJobError("cannot move \(temporary) to \(path): errno \(errno)") }
        state.done = true
        try save(state, run: run, chunk: chunk, tally: rewriter.tally, db: db)
        context.reportProgress(done: Int(state.rows), total: Int(state.rows), message: "\(state.rows) rows anonymized")
    }
}
