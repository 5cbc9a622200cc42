import Ferry
public import FerryWorker
public import FerryAnonymizer
import FerryPostgres
import FerryQueue
import Foundation

/// `anonymize.batch {"source": …, "target": …}`: anonymizes a PostgreSQL table's text columns
/// (by key range, keyset-paged) or a JSONL/CSV file under the import root (by byte range),
/// finding personal data as Presidio does and applying Presidio's operators
/// (`parameters.config` of `jobs/anonymize.batch.yml`, or `config` in the arguments).
///
/// This job plans: it checks the source, target and configuration (a wrong one goes dead with
/// the reason, before any work), records the run with its chunks, and enqueues one
/// `anonymize.chunk` job per chunk as a core batch whose `on_complete` is `anonymize.finish`,
/// which writes the report (rows, bytes, findings per entity type, time) and, for files,
/// assembles the output. A run is keyed by this job's id: running it again adds nothing.
public struct AnonymizeBatch: JobHandler {
    public static let type = "anonymize.batch"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "anonymize", maxAttempts: 5, timeout: .seconds(3600))

    public init() {}

    public typealias Arguments = AnonymizeRequest

    /// What the job hands back.
    public struct Planned: Sendable, Encodable {
        public var runID: Int64
        public var batchID: String?
        public var chunks: Int

        enum CodingKeys: String, CodingKey {
            case chunks
            case runID = "run_id"
            case batchID = "batch_id"
        }
    }

    static var importRoot: String {
        ProcessInfo.processInfo.environment["FERRY_IMPORT_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? ".ferry/imports"
    }

    public func perform(_ arguments: AnonymizeRequest, context: JobContext) throws {
        let configuration = try Self.configuration(arguments.config?.json, settings: context.settings)
        let chunkRows = arguments.chunkRows ?? context.settings.parameters["chunk_rows"]?.int ?? 20_000
        let chunkBytes = arguments.chunkBytes ?? context.settings.parameters["chunk_bytes"]?.int ?? 4 << 20
        guard (100...10_000_000).contains(chunkRows) else { throw PermanentJobError("chunk_rows must be from 100 to 10,000,000") }
        guard (4096...(1 << 30)).contains(chunkBytes) else { throw PermanentJobError("chunk_bytes must be from 4 KiB to 1 GiB") }
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let planned = try pool.withConnection { db -> Planned in
            let existing = try db.query("SELECT id, batch_id, chunks_total FROM anonymize_runs WHERE job_id = $1", [context.id]).first
            if let existing, let batch = try existing.decode("batch_id", as: String?.self) {
                return Planned(runID: try existing.decode("id"), batchID: batch.isEmpty ? nil : batch, chunks: try existing.decode("chunks_total"))
            }
            // Recorded, but the batch id was not (a crash after planning): keep the plan and its
            // chunks — chunk jobs of a batch enqueued just before the crash may be running — and
            // enqueue the chunks (again). A chunk runs once: a lock per chunk, then its done flag.
            if let existing {
                let runID: Int64 = try existing.decode("id")
                let count: Int = try existing.decode("chunks_total")
                return try Self.enqueueChunks(run: runID, count: count, context: context, db: db)
            }
            let plan = try AnonymizePlan.resolve(arguments, importRoot: Self.importRoot, db: db)
            let ranges = try Self.chunks(plan, chunkRows: chunkRows, chunkBytes: chunkBytes, db: db) { done, total in
                context.reportProgress(done: Int(done), total: Int(total), message: "planning chunks")
                try context.checkCancellation()
            }
            let runID = try db.transaction { db -> Int64 in
                let planJSON = PostgresJSON(text: String(decoding: try JSONEncoder().encode(plan), as: UTF8.self))
                let configJSON = PostgresJSON(text: configuration.json)
                guard let row = try db.query("""
                    INSERT INTO anonymize_runs (job_id, plan, config, chunks_total) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (job_id) DO NOTHING RETURNING id
                    """, [context.id, planJSON, configJSON, ranges.count]).first else {
                    throw ConcurrentPlanning(reason: "another attempt of job \(context.id) recorded this run meanwhile; the next attempt enqueues its chunks")
                }
                let runID: Int64 = try row.decode("id")
                for (chunk, range) in ranges.enumerated() {
                    try db.query("INSERT INTO anonymize_chunks (run_id, chunk, lower_bound, upper_bound, first_line) VALUES ($1, $2, $3, $4, $5)",
                                 [runID, chunk, range.lower, range.upper, range.firstLine])
                }
                return runID
            }
            return try Self.enqueueChunks(run: runID, count: ranges.count, context: context, db: db)
        }
        context.logger.info("anonymize run planned", metadata: ["run_id": "\(planned.runID)", "chunks": "\(planned.chunks)"])
        try context.setResult(planned)
    }

    /// Enqueues a run's chunk jobs as a batch with `anonymize.finish` on completion, and records the batch.
    static func enqueueChunks(run runID: Int64, count: Int, context: JobContext, db: PostgresConnection) throws -> Planned {
        guard count > 0 else {
            // Nothing to anonymize (an empty table or file): the report is written at once.
            try context.enqueue(AnonymizeFinish.self, .init(runID: runID), options: .init(queue: context.job.queue))
            try db.query("UPDATE anonymize_runs SET batch_id = '' WHERE id = $1", [runID])
            return Planned(runID: runID, batchID: nil, chunks: 0)
        }
        let (batch, _) = try Batches(dispatcher: context.dispatcher).enqueue(BatchRequest(
            jobs: try (0..<count).map { try .init(AnonymizeChunk.self, .init(runID: runID, chunk: $0)) },
            queue: context.job.queue, description: "anonymize run \(runID) (\(count) chunks)",
            onComplete: try .init(AnonymizeFinish.self, .init(runID: runID))
        ))
        try db.query("UPDATE anonymize_runs SET batch_id = $2 WHERE id = $1", [runID, batch])
        return Planned(runID: runID, batchID: batch, chunks: count)
    }

    /// Two attempts of one job planned at once (a crash recovered while the first still ran); retried.
    struct ConcurrentPlanning: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// The configuration to run with (its JSON), checked by building an anonymizer from it.
    static func configuration(_ given: String?, settings: JobSettings) throws -> JSONConfiguration {
        let json: String
        if let given {
            json = given
        } else if let configured = settings.parameters["config"] {
            json = String(decoding: try JSONEncoder().encode(configured), as: UTF8.self)
        } else {
            json = "{}"
        }
        do {
            _ = try Anonymizer(configuration: try AnonymizerConfiguration.decode(json: Array(json.utf8)), environment: ProcessInfo.processInfo.environment)
        } catch {
            throw PermanentJobError("\(error)")
        }
        return JSONConfiguration(json: json)
    }

    /// An anonymizer for spot checks (`ferry anonymize`, `POST /api/v1/anonymize`): `json` if
    /// given, else `parameters.config` of the type's settings, else Presidio's defaults.
    ///
    /// - Parameter analyzing: only to find (no operator runs): the operators, and the keys some
    ///   of them read, are left out, so finding needs no secret.
    public static func anonymizer(json: String?, settings: JobSettings?, environment: [String: String], analyzing: Bool = false) throws(AnonymizerError) -> Anonymizer {
        var text = json ?? "{}"
        if json == nil, let configured = settings?.parameters["config"], let encoded = try? JSONEncoder().encode(configured) {
            text = String(decoding: encoded, as: UTF8.self)
        }
        var configuration = try AnonymizerConfiguration.decode(json: Array(text.utf8))
        if analyzing { configuration.operators = [:] }
        return try Anonymizer(configuration: configuration, environment: environment)
    }

    /// The run's chunks: key ranges of about `chunkRows` rows, or byte ranges of about `chunkBytes`.
    static func chunks(_ plan: AnonymizePlan, chunkRows: Int, chunkBytes: Int, db: PostgresConnection, progress: (_ done: Int64, _ total: Int64) throws -> Void) throws -> [FileChunker.Range] {
        switch plan {
        case .table(let table):
            guard let row = try db.query("SELECT min(\(table.key))::bigint AS low, max(\(table.key))::bigint AS high, count(*)::bigint AS rows FROM \(table.relation)").first,
                  let low = try row.decode("low", as: Int64?.self), let high = try row.decode("high", as: Int64?.self)
            else { return [] }
            let rows: Int64 = try row.decode("rows")
            let count = max(1, (rows + Int64(chunkRows) - 1) / Int64(chunkRows))
            // Even key ranges: [low, high] split into `count` parts (sparse keys make some lighter).
            let span = high.subtractingReportingOverflow(low)
            guard !span.overflow, span.partialValue < Int64.max - 1, high < Int64.max, low > Int64.min else { throw PermanentJobError("the key range \(low)…\(high) is too wide to split") }
            let width = span.partialValue / count + 1
            var ranges: [FileChunker.Range] = []
            var lower = low
            while lower <= high {
                let upper = min(high, lower + width - 1) + 1
                ranges.append(.init(lower: lower, upper: upper, firstLine: 1))
                lower = upper
            }
            return ranges
        case .file(let file):
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.source)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
            let headerLines = Int64(file.header.lazy.filter { $0 == 0x0A }.count)
            return try FileChunker.plan(path: file.source, start: Int64(file.header.count), startLine: 1 + headerLines,
                                        chunkBytes: Int64(chunkBytes), quoted: file.format == .csv) { try progress($0, size) }
        }
    }
}
