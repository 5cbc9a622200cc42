import FerryWorker
import Foundation

/// Splits a JSONL or CSV file into byte ranges that start and end on record boundaries, so each
/// chunk job reads its own range: one pass over the file, counting lines and, for CSV, whether a
/// line break stands inside a quoted field.
enum FileChunker {
    struct Range: Sendable, Equatable {
        var lower: Int64
        var upper: Int64
        /// The line the range starts on (1-based).
        var firstLine: Int64
    }

    /// The CSV header: its bytes (line break included) and its field names.
    static func header(path: String, delimiter: UInt8) throws -> (raw: [UInt8], fields: [String]) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PermanentJobError("cannot open \(path)") }
        defer { try? handle.close() }
        let block = [UInt8](try handle.read(upToCount: 1 << 20) ?? Data())
        var parser = CSVParser(delimiter: delimiter)
        var records: [CSVRecord] = []
        parser.feed(block, into: &records)
        if records.isEmpty { parser.finish(into: &records) }
        guard let first = records.first, first.error == nil, !first.fields.isEmpty else {
            throw PermanentJobError("the CSV file has no readable header line\(records.first?.error.map { ": \($0)" } ?? "")")
        }
        return (Array(block.prefix(Int(first.endOffset))), first.fields.map { String(decoding: $0, as: UTF8.self) })
    }

    /// Ranges of about `chunkBytes` from `start` (past a CSV header) to the end of the file.
    static func plan(path: String, start: Int64, startLine: Int64, chunkBytes: Int64, quoted: Bool, progress: (Int64) throws -> Void = { _ in }) throws -> [Range] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PermanentJobError("cannot open \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(start))
        var ranges: [Range] = []
        var lower = start, lowerLine = startLine
        var offset = start, line = startLine
        var inQuotes = false
        while true {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { break }
            data.withUnsafeBytes { (block: UnsafeRawBufferPointer) in
                for byte in block {
                    offset += 1
                    if quoted, byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                    guard byte == 0x0A else { continue }
                    line += 1
                    if !inQuotes, offset - lower >= chunkBytes {
                        ranges.append(Range(lower: lower, upper: offset, firstLine: lowerLine))
                        lower = offset
                        lowerLine = line
                    }
                }
            }
            try progress(offset)
        }
        if offset > lower { ranges.append(Range(lower: lower, upper: offset, firstLine: lowerLine)) }
        return ranges
    }
}
