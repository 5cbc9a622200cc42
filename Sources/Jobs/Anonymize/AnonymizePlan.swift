import FerryWorker
import FerryAnonymizer
import FerryPostgres
import FerryQueue
import Foundation

/// What an `anonymize.batch` job asks for, as written in its arguments.
public struct AnonymizeRequest: Codable, Sendable {
    /// `{"table": "posts", "key": "id", "columns": ["body"]}` or `{"file": "exports/a.jsonl", "fields": ["text"]}`
    /// or `{"file": "exports/a.csv", "columns": ["comment"], "delimiter": ";"}`.
    public struct Source: Codable, Sendable, Equatable {
        public var table: String?
        public var key: String?
        public var columns: [String]?
        public var file: String?
        public var format: String?
        public var fields: [String]?
        public var delimiter: String?
    }

    /// `{"columns": {"body": "body_anon"}}` (same table), `{"table": "posts_anon"}` (another
    /// table, made if missing), `{"in_place": true}`, or `{"file": "exports/a.anon.jsonl"}`.
    public struct Target: Codable, Sendable, Equatable {
        public var table: String?
        public var columns: [String: String]?
        public var inPlace: Bool?
        public var file: String?
        public var overwrite: Bool?

        enum CodingKeys: String, CodingKey {
            case table, columns, file, overwrite
            case inPlace = "in_place"
        }
    }

    public var source: Source
    public var target: Target
    /// Overrides `parameters.config` of `jobs/anonymize.batch.yml` for this run.
    public var config: JSONConfiguration?
    public var chunkRows: Int?
    public var chunkBytes: Int?

    enum CodingKeys: String, CodingKey {
        case source, target, config
        case chunkRows = "chunk_rows"
        case chunkBytes = "chunk_bytes"
    }
}

/// An anonymizer configuration kept as its JSON text (so the run stores exactly what it ran with).
public struct JSONConfiguration: Codable, Sendable {
    public var json: String

    public init(json: String) { self.json = json }

    public init(from decoder: any Decoder) throws {
        json = String(decoding: try JSONEncoder().encode(try JSONValue(from: decoder)), as: UTF8.self)
    }

    /// Written as the JSON value it holds (not as a string).
    public func encode(to encoder: any Encoder) throws {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)).encode(to: encoder)
    }
}

/// A run's source and target, resolved and checked: identifiers as PostgreSQL quoted them, paths
/// inside the import root. Stored with the run, so every chunk works from the same plan.
enum AnonymizePlan: Codable, Sendable, Equatable {
    case table(TablePlan)
    case file(FilePlan)

    struct TablePlan: Codable, Sendable, Equatable {
        /// The source relation and its key, quoted by PostgreSQL.
        var relation: String
        var key: String
        var columns: [String]
        /// Where each column's anonymized text goes (the same order), in `targetRelation`.
        var targetRelation: String
        var targetColumns: [String]
        /// Whether the target is a table of its own (rows inserted by key) rather than the source's rows.
        var separateTable: Bool
    }

    struct FilePlan: Codable, Sendable, Equatable {
        enum Format: String, Codable, Sendable { case jsonl, csv }
        var source: String
        var name: String
        var format: Format
        /// JSONL: top-level fields whose strings are anonymized (nil: every string value).
        var fields: [String]?
        /// CSV: the columns anonymized (0-based; nil: all), the delimiter, and the header line.
        var columns: [Int]?
        var delimiter: UInt8
        var header: [UInt8]
        var target: String
        var targetName: String
    }
}

extension AnonymizePlan {
    /// The plan for `request`, checked against the database and the file system.
    static func resolve(_ request: AnonymizeRequest, importRoot: String, db: PostgresConnection) throws -> AnonymizePlan {
        let source = request.source
        switch (source.table, source.file) {
        case (let table?, nil):
            return .table(try resolveTable(table, source: source, target: request.target, db: db))
        case (nil, let file?):
            return .file(try resolveFile(file, source: source, target: request.target, importRoot: importRoot))
        default:
            throw PermanentJobError("source needs exactly one of 'table' (with 'key' and 'columns') or 'file'")
        }
    }

    static let columnsQuery = """
        SELECT quote_ident(a.attname) AS quoted, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
               a.atttypid::regtype::text IN ('text', 'character varying', 'character') AS textual,
               a.atttypid::regtype::text IN ('bigint', 'integer', 'smallint') AS integral
        FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
        """

    struct Column { var quoted: String; var name: String; var type: String; var textual: Bool; var integral: Bool }

    /// The relation `name` names (as PostgreSQL reads it) quoted, and its columns; nil if none.
    static func relation(_ name: String, db: PostgresConnection) throws -> (quoted: String, columns: [Column])? {
        guard let row = try db.query("SELECT to_regclass($1)::text AS quoted", [name]).first, let quoted = try row.decode("quoted", as: String?.self) else { return nil }
        let columns = try db.query(columnsQuery, [quoted]).rows.map { row in
            Column(quoted: try row.decode("quoted"), name: try row.decode("name"), type: try row.decode("type"), textual: try row.decode("textual"), integral: try row.decode("integral"))
        }
        return (quoted, columns)
    }

    /// Whether a unique index (or the primary key) covers exactly `column` of `relation`.
    static func isUniqueKey(_ relation: String, _ column: String, db: PostgresConnection) throws -> Bool {
        try db.query("""
            SELECT EXISTS (
                SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = $2
            ) AS found
            """, [relation, column]).first?.decode("found", as: Bool.self) ?? false
    }

    static func resolveTable(_ table: String, source: AnonymizeRequest.Source, target: AnonymizeRequest.Target, db: PostgresConnection) throws -> TablePlan {
        guard table.utf8.count <= 200, let (relation, columns) = try Self.relation(table, db: db) else {
            throw PermanentJobError("no table '\(table.prefix(200))' (as PostgreSQL reads the name: unquoted names are lowercased)")
        }
        func column(_ name: String, in columns: [Column], of relation: String) throws -> Column {
            guard let found = columns.first(where: { $0.name == name }) else {
                throw PermanentJobError("\(relation) has no column '\(name.prefix(100))'; it has \(columns.map(\.name).joined(separator: ", "))")
            }
            return found
        }
        guard let keyName = source.key else { throw PermanentJobError("source.key is required: an integer column that identifies rows (the primary key)") }
        let key = try column(keyName, in: columns, of: relation)
        guard key.integral else { throw PermanentJobError("source.key \(key.name) is \(key.type); keyset paging needs an integer key (bigint, integer or smallint)") }
        guard try isUniqueKey(relation, key.name, db: db) else {
            throw PermanentJobError("\(relation).\(key.name) is not unique (no primary key or unique index on it alone); rows are paged and written by it")
        }
        guard let names = source.columns, !names.isEmpty, names.count <= 64 else { throw PermanentJobError("source.columns must name 1 to 64 text columns") }
        let sources = try names.map { try column($0, in: columns, of: relation) }
        if let bad = sources.first(where: { !$0.textual }) { throw PermanentJobError("\(relation).\(bad.name) is \(bad.type); only text, varchar and char columns are anonymized") }
        guard Set(names).count == names.count else { throw PermanentJobError("source.columns names a column twice") }

        switch (target.table, target.columns, target.inPlace ?? false, target.file) {
        case (nil, nil, true, nil):
            return TablePlan(relation: relation, key: key.quoted, columns: sources.map(\.quoted), targetRelation: relation, targetColumns: sources.map(\.quoted), separateTable: false)
        case (nil, let mapping?, false, nil):
            let targets = try names.map { name -> Column in
                guard let targetName = mapping[name] else { throw PermanentJobError("target.columns says nowhere to write \(name); map every source column") }
                let found = try column(targetName, in: columns, of: relation)
                guard found.textual else { throw PermanentJobError("target column \(found.name) is \(found.type); it must be a text column") }
                guard !names.contains(targetName) else {
                    throw PermanentJobError("target column \(targetName) is a source column: say \"in_place\": true to overwrite the source")
                }
                return found
            }
            return TablePlan(relation: relation, key: key.quoted, columns: sources.map(\.quoted), targetRelation: relation, targetColumns: targets.map(\.quoted), separateTable: false)
        case (let name?, nil, false, nil):
            guard name.utf8.count <= 200 else { throw PermanentJobError("target.table is too long") }
            if let existing = try Self.relation(name, db: db) {
                guard existing.quoted != relation else { throw PermanentJobError("target.table is the source table: say \"in_place\": true, or name target columns") }
                let targetKey = try column(keyName, in: existing.columns, of: existing.quoted)
                let targets = try names.map { try column($0, in: existing.columns, of: existing.quoted) }
                guard targetKey.integral, try isUniqueKey(existing.quoted, keyName, db: db) else {
                    throw PermanentJobError("\(existing.quoted).\(keyName) must be an integer column with a primary key or unique index on it alone")
                }
                return TablePlan(relation: relation, key: key.quoted, columns: sources.map(\.quoted), targetRelation: existing.quoted, targetColumns: targets.map(\.quoted), separateTable: true)
            }
            // A new table: the key and the columns, quoted by PostgreSQL (format('%I')).
            guard let made = try db.query("SELECT quote_ident($1) AS quoted", [name]).first else { throw PermanentJobError("could not quote \(name)") }
            let quoted: String = try made.decode("quoted")
            let columnList = (["\(key.quoted) bigint PRIMARY KEY"] + sources.map { "\($0.quoted) text" }).joined(separator: ", ")
            try db.query("CREATE TABLE IF NOT EXISTS \(quoted) (\(columnList))")
            return TablePlan(relation: relation, key: key.quoted, columns: sources.map(\.quoted), targetRelation: quoted, targetColumns: sources.map(\.quoted), separateTable: true)
        default:
            throw PermanentJobError("a table's target needs exactly one of \"in_place\": true, \"columns\": {source: target}, or \"table\"")
        }
    }

    static func resolveFile(_ file: String, source: AnonymizeRequest.Source, target: AnonymizeRequest.Target, importRoot: String) throws -> FilePlan {
        let path = try TradesImport.resolve(file, root: importRoot)
        let lowered = file.lowercased()
        let format: FilePlan.Format
        switch source.format?.lowercased() {
        case "jsonl", "ndjson": format = .jsonl
        case "csv": format = .csv
        case nil where lowered.hasSuffix(".jsonl") || lowered.hasSuffix(".ndjson"): format = .jsonl
        case nil where lowered.hasSuffix(".csv"): format = .csv
        default: throw PermanentJobError("source.format must be jsonl or csv (or the file end in .jsonl, .ndjson or .csv)")
        }
        guard target.table == nil, target.columns == nil, target.inPlace == nil, let targetName = target.file else {
            throw PermanentJobError("a file's target is a new file: {\"file\": \"…\"} under the import root")
        }
        let targetPath = try Self.newFile(targetName, root: importRoot, overwrite: target.overwrite ?? false)
        guard targetPath != path else { throw PermanentJobError("the target file is the source file; files are never anonymized in place") }
        var delimiter = UInt8(ascii: ",")
        if let given = source.delimiter {
            guard given.utf8.count == 1, let byte = given.utf8.first, byte != UInt8(ascii: "\""), byte != 0x0A, byte != 0x0D else {
                throw PermanentJobError("source.delimiter must be one ASCII character other than a quote or a line break")
            }
            delimiter = byte
        }
        var plan = FilePlan(source: path, name: file, format: format, fields: nil, columns: nil, delimiter: delimiter, header: [], target: targetPath, targetName: targetName)
        switch format {
        case .jsonl:
            guard source.columns == nil else { throw PermanentJobError("JSONL sources name 'fields', not 'columns'") }
            plan.fields = source.fields
        case .csv:
            guard source.fields == nil else { throw PermanentJobError("CSV sources name 'columns' (header names), not 'fields'") }
            let header = try FileChunker.header(path: path, delimiter: delimiter)
            plan.header = header.raw
            if let names = source.columns {
                plan.columns = try names.map { name in
                    guard let index = header.fields.firstIndex(of: name) else {
                        throw PermanentJobError("the CSV header has no column '\(name.prefix(100))'; it has \(header.fields.joined(separator: ", ").prefix(1000))")
                    }
                    return index
                }
            }
        }
        return plan
    }

    /// The path for a new file `name` under `root`: relative, without '..', in an existing
    /// directory inside the root, not there yet (unless `overwrite`).
    static func newFile(_ name: String, root: String, overwrite: Bool) throws -> String {
        guard !name.isEmpty, name.utf8.count <= 1000, !name.hasPrefix("/"), !name.split(separator: "/").contains(".."), !name.hasSuffix("/") else {
            throw PermanentJobError("target.file must be a path inside the import root, without '..' or a leading '/': '\(name.prefix(200))'")
        }
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath()
        let file = rootURL.appendingPathComponent(name).standardizedFileURL
        let directory = file.deletingLastPathComponent().resolvingSymlinksInPath()
        guard directory.path == rootURL.path || directory.path.hasPrefix(rootURL.path + "/") else {
            throw PermanentJobError("'\(name.prefix(200))' leads out of the import root \(root)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PermanentJobError("the directory of '\(name.prefix(200))' does not exist under the import root \(root)")
        }
        let path = directory.appendingPathComponent(file.lastPathComponent).path
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw PermanentJobError("'\(name.prefix(200))' exists; say \"overwrite\": true in the target to replace it")
        }
        return path
    }
}
