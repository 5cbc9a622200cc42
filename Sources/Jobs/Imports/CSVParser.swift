/// One record of a CSV file: its fields as bytes, where it starts, where it ends.
struct CSVRecord: Sendable {
    var fields: [[UInt8]]
    /// The line the record starts on (1-based; a quoted field may span lines).
    var line: Int
    /// The byte offset just after the record (its line end included): where reading resumes.
    var endOffset: Int64
    /// The line after the record.
    var nextLine: Int
    /// Why the record is broken (an unbalanced quote, text after a closing quote, a field over the
    /// size limit), or nil.
    var error: String?
}

/// A streaming CSV parser (RFC 4180 and what exports do around it): bytes go in as they arrive,
/// records come out; memory holds one record at most.
///
/// Handles a UTF-8 byte order mark, CRLF, LF and lone CR line ends, quoted fields with the
/// delimiter, doubled quotes and line breaks inside. A broken record is reported with its line and
/// the reason, and parsing goes on at the next line. An unbalanced quote is found when the file
/// ends inside the quoted field or the field passes `maximumFieldBytes`; then the record is
/// reported as its first line only, and the lines it swallowed are parsed again.
struct CSVParser: Sendable {
    let delimiter: UInt8
    let maximumFieldBytes: Int
    /// The most bytes one record may hold (its raw bytes are kept to parse them again).
    let maximumRecordBytes: Int

    private var field: [UInt8] = []
    private var fields: [[UInt8]] = []
    /// The current record's bytes as read, for parsing again after an unbalanced quote.
    private var raw: [UInt8] = []
    private var inQuotes = false
    private var afterQuote = false
    private var fieldWasQuoted = false
    private var error: String?
    private var skippingToLineEnd = false
    private var pendingCR = false
    private var atStart = true
    private var bomBytes = 0
    private(set) var line = 1
    private var recordLine = 1
    private var recordStart: Int64
    private(set) var offset: Int64

    /// - Parameters:
    ///   - offset: the byte offset of the first byte fed (when resuming mid-file).
    ///   - line: the line number of the first byte fed.
    ///   - afterCarriageReturn: the byte before `offset` was a CR ending a record (an LF first is its CRLF's).
    init(delimiter: UInt8 = UInt8(ascii: ","), maximumFieldBytes: Int = 64 * 1024, offset: Int64 = 0, line: Int = 1, afterCarriageReturn: Bool = false) {
        self.delimiter = delimiter
        self.maximumFieldBytes = maximumFieldBytes
        self.maximumRecordBytes = 16 * maximumFieldBytes
        self.offset = offset
        self.recordStart = offset
        self.line = line
        self.recordLine = line
        self.atStart = offset == 0
        self.pendingCR = afterCarriageReturn
    }

    /// Parses `bytes`, appending each complete record to `records`.
    mutating func feed(_ bytes: some Collection<UInt8>, into records: inout [CSVRecord]) {
        for byte in bytes { consume(byte, &records) }
    }

    /// Ends the input: appends the last record if the file does not end with a line break.
    mutating func finish(into records: inout [CSVRecord]) {
        if inQuotes {
            backtrack("an unbalanced quote: the file ends inside a quoted field", &records)
            finish(into: &records)
            return
        }
        if atStart, bomBytes > 0 { field += [0xEF, 0xBB, 0xBF][..<bomBytes] }
        if !field.isEmpty || !fields.isEmpty || error != nil || fieldWasQuoted { endRecord(&records) }
    }

    private mutating func consume(_ byte: UInt8, _ records: inout [CSVRecord]) {
        offset += 1
        if atStart {
            // The UTF-8 byte order mark, EF BB BF, at the very start of the file.
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            if byte == bom[bomBytes] {
                bomBytes += 1
                if bomBytes == 3 {
                    atStart = false
                    recordStart = offset
                }
                return
            }
            atStart = false
            if bomBytes > 0 {
                field += bom[..<bomBytes]
                raw += bom[..<bomBytes]
            }
        }
        if pendingCR {
            pendingCR = false
            if byte == 0x0A {
                recordStart = offset  // CRLF: the record already ended at CR
                return
            }
        }
        if skippingToLineEnd {
            if byte == 0x0A || byte == 0x0D {
                skippingToLineEnd = false
                pendingCR = byte == 0x0D
                endRecord(&records)
            }
            return
        }
        if raw.count < maximumRecordBytes { raw.append(byte) } else if !inQuotes {
            fail("a record over \(maximumRecordBytes) bytes")
            return
        }
        if inQuotes {
            if byte == UInt8(ascii: "\"") {
                inQuotes = false
                afterQuote = true
                return
            }
            if byte == 0x0A { line += 1 }
            guard field.count < maximumFieldBytes, raw.count < maximumRecordBytes else {
                backtrack("an unbalanced quote: a quoted field runs over \(maximumFieldBytes) bytes", &records)
                return
            }
            field.append(byte)
            return
        }
        if afterQuote {
            afterQuote = false
            if byte == UInt8(ascii: "\"") {
                // A doubled quote inside a quoted field.
                inQuotes = true
                field.append(byte)
                return
            }
            if byte != delimiter, byte != 0x0A, byte != 0x0D {
                fail("text after the closing quote of field \(fields.count + 1)")
                return
            }
        }
        switch byte {
        case delimiter:
            fields.append(field)
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        case 0x0A, 0x0D:
            pendingCR = byte == 0x0D
            endRecord(&records)
        case UInt8(ascii: "\""):
            if field.isEmpty, !fieldWasQuoted {
                inQuotes = true
                fieldWasQuoted = true
            } else {
                fail("a quote inside the unquoted field \(fields.count + 1)")
            }
        default:
            if field.count < maximumFieldBytes { field.append(byte) } else { fail("a field over \(maximumFieldBytes) bytes") }
        }
    }

    /// Gives up the current record: the rest of its line is skipped.
    private mutating func fail(_ reason: String) {
        if error == nil { error = reason }
        inQuotes = false
        afterQuote = false
        skippingToLineEnd = true
    }

    /// An unbalanced quote: the record is its first line, reported broken; the bytes after that
    /// line are parsed again from a clean state.
    private mutating func backtrack(_ reason: String, _ records: inout [CSVRecord]) {
        let bytes = raw
        let breakIndex = bytes.firstIndex { $0 == 0x0A || $0 == 0x0D } ?? bytes.count - 1
        var end = breakIndex + 1
        if bytes[breakIndex] == 0x0D, end < bytes.count, bytes[end] == 0x0A { end += 1 }
        let restart = recordStart + Int64(end)
        records.append(CSVRecord(fields: [Array(bytes[..<breakIndex])], line: recordLine, endOffset: restart, nextLine: recordLine + 1, error: reason))
        let rest = Array(bytes[end...])
        startNextRecord()
        inQuotes = false
        pendingCR = false
        line = recordLine + 1
        recordLine = line
        offset = restart
        recordStart = restart
        for byte in rest { consume(byte, &records) }
    }

    private mutating func endRecord(_ records: inout [CSVRecord]) {
        fields.append(field)
        let record = CSVRecord(fields: fields, line: recordLine, endOffset: offset, nextLine: line + 1, error: error)
        startNextRecord()
        line += 1
        recordLine = line
        recordStart = offset
        // A blank line is no record.
        if record.fields.count == 1, record.fields[0].isEmpty, record.error == nil { return }
        records.append(record)
    }

    /// Clears what the last record held.
    private mutating func startNextRecord() {
        field.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        raw.removeAll(keepingCapacity: true)
        fieldWasQuoted = false
        afterQuote = false
        error = nil
    }
}
