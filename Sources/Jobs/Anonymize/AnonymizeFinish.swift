import Ferry
public import FerryWorker
public import FerryPostgres
import FerryQueue
public import Foundation

/// `anonymize.finish {"run_id": 7, "batch_id": …}`: the `on_complete` callback of a run's
/// chunks. Joins a file run's parts (header first) into the target file by an atomic rename,
/// marks the run succeeded — or failed, naming the chunks that went dead (their rows were not
/// written; the parts written are kept for a retry of those chunks) — and stores the report.
public struct AnonymizeFinish: JobHandler {
    public static let type = "anonymize.finish"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "anonymize", maxAttempts: 5, timeout: .seconds(3600))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var runID: Int64

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
        }

        public init(runID: Int64) { self.runID = runID }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let report = try pool.withConnection { db -> AnonymizeReport in
            guard let run = try db.query("SELECT plan, status FROM anonymize_runs WHERE id = $1", [arguments.runID]).first else {
                throw PermanentJobError("no anonymize run \(arguments.runID)")
            }
            let plan = try run.decode("plan", as: PostgresJSON.self).decode(as: AnonymizePlan.self)
            var report = try AnonymizeRuns.report(run: arguments.runID, db: db)
            if report.chunksDone == report.chunks, case .file(let file) = plan, try run.decode("status", as: String.self) == "running" {
                try Self.assemble(file, run: arguments.runID, chunks: report.chunks)
            }
            let status = report.chunksDone == report.chunks ? "succeeded" : "failed"
            try db.query("""
                UPDATE anonymize_runs SET status = $2, finished_at = COALESCE(finished_at, now()), report = $3 WHERE id = $1
                """, [arguments.runID, status, try PostgresJSON(encoding: report)])
            report = try AnonymizeRuns.report(run: arguments.runID, db: db)
            return report
        }
        context.logger.info("anonymize run finished", metadata: [
            "run_id": "\(arguments.runID)", "status": "\(report.status)", "rows": "\(report.rows)", "bytes": "\(report.bytes)",
        ])
        try context.setResult(report)
    }

    /// Writes the header and every part, in order, to a temporary file beside the target, then
    /// renames it over the target and removes the parts.
    static func assemble(_ file: AnonymizePlan.FilePlan, run: Int64, chunks: Int) throws {
        // Assembled already (this job ran before, and stopped after the rename): the parts are gone.
        let parts = (AnonymizeChunk.partPath(file, run: run, chunk: 0) as NSString).deletingLastPathComponent
        if chunks > 0, !FileManager.default.fileExists(atPath: parts), FileManager.default.fileExists(atPath: file.target) { return }
        let temporary = file.target + ".tmp-\(run)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(file.header), attributes: [.posixPermissions: 0o600]),
              let output = FileHandle(forWritingAtPath: temporary)
        else { throw PermanentJobError("cannot write \(temporary)") }
        do {
            try output.seekToEnd()
            for chunk in 0..<chunks {
                let part = AnonymizeChunk.partPath(file, run: run, chunk: chunk)
                guard let input = FileHandle(forReadingAtPath: part) else { throw PermanentJobError("the part of chunk \(chunk) is missing (\(part))") }
                defer { try? input.close() }
                while let block = try input.read(upToCount: 1 << 20), !block.isEmpty { try output.write(contentsOf: block) }
            }
            try output.synchronize()
            try output.close()
        } catch {
            try? output.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        guard rename(temporary, file.target) == 0 else { throw PermanentJobError("cannot move \(temporary) to \(file.target): errno \(errno)") }
        if chunks > 0 { try? FileManager.default.removeItem(atPath: parts) }
    }
}

/// A run's report: rows, bytes, findings per entity type, rejected rows, time.
public struct AnonymizeReport: Codable, Sendable, Equatable {
    public var runID: Int64
    public var status: String
    public var source: String
    public var target: String
    public var chunks: Int
    public var chunksDone: Int
    public var rows: Int64
    public var bytes: Int64
    public var rejected: Int64
    public var findings: [String: Int]
    /// The first rejected rows with their line and reason.
    public var errors: [String]
    public var createdAt: Date
    public var finishedAt: Date?
    public var seconds: Double?

    enum CodingKeys: String, CodingKey {
        case status, source, target, chunks, rows, bytes, rejected, findings, errors, seconds
        case runID = "run_id"
        case chunksDone = "chunks_done"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
    }
}

/// Reads runs and their reports (for `ferry anonymize runs` and the admin API).
public enum AnonymizeRuns {
    /// The newest runs first.
    public static func recent(limit: Int, before: Int64? = nil, db: PostgresConnection) throws -> [AnonymizeReport] {
        try db.query("SELECT id FROM anonymize_runs WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1", [limit, before]).rows.map { row in
            try report(run: try row.decode("id"), db: db)
        }
    }

    /// The report of run `run`, summed over its chunks as they stand.
    public static func report(run: Int64, db: PostgresConnection) throws -> AnonymizeReport {
        guard let row = try db.query("""
            SELECT r.status, r.plan, r.chunks_total, r.created_at, r.finished_at,
                   extract(epoch FROM COALESCE(r.finished_at, now()) - r.created_at)::float8 AS seconds,
                   count(c.chunk) FILTER (WHERE c.done)::int AS done, COALESCE(sum(c.rows), 0)::bigint AS rows,
                   COALESCE(sum(c.bytes), 0)::bigint AS bytes, COALESCE(sum(c.rejected), 0)::bigint AS rejected,
                   COALESCE((SELECT jsonb_object_agg(key, total) FROM (
                       SELECT f.key, sum(f.value::bigint) AS total FROM anonymize_chunks c2, jsonb_each_text(c2.findings) f
                       WHERE c2.run_id = r.id GROUP BY f.key) totals), '{}') AS findings,
                   COALESCE((SELECT jsonb_agg(e ORDER BY c3.chunk) FROM anonymize_chunks c3, jsonb_array_elements(c3.errors) e
                       WHERE c3.run_id = r.id), '[]') AS errors
            FROM anonymize_runs r LEFT JOIN anonymize_chunks c ON c.run_id = r.id
            WHERE r.id = $1 GROUP BY r.id
            """, [run]).first else { throw PermanentJobError("no anonymize run \(run)") }
        let plan = try row.decode("plan", as: PostgresJSON.self).decode(as: AnonymizePlan.self)
        let (source, target): (String, String) = switch plan {
        case .table(let table): (table.relation, table.separateTable ? table.targetRelation : "\(table.relation) (\(table.targetColumns.joined(separator: ", ")))")
        case .file(let file): (file.name, file.targetName)
        }
        struct Rejected: Decodable { var line: Int64; var reason: String }
        let errors = (try? row.decode("errors", as: PostgresJSON.self).decode(as: [Rejected].self)) ?? []
        let finished = try row.decode("finished_at", as: Date?.self)
        return AnonymizeReport(
            runID: run, status: try row.decode("status"), source: source, target: target, chunks: try row.decode("chunks_total"),
            chunksDone: try row.decode("done"), rows: try row.decode("rows"), bytes: try row.decode("bytes"), rejected: try row.decode("rejected"),
            findings: (try? row.decode("findings", as: PostgresJSON.self).decode(as: [String: Int].self)) ?? [:],
            errors: errors.prefix(100).map { "line \($0.line): \($0.reason)" },
            createdAt: try row.decode("created_at"), finishedAt: finished, seconds: try row.decode("seconds")
        )
    }
}
