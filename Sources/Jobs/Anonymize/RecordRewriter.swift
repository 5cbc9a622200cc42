import FerryAnonymizer

/// Anonymizes the texts of one chunk and counts what it found: reusable buffers, so a row costs
/// no allocation beyond its output.
struct RecordRewriter {
    let anonymizer: Anonymizer
    private var findings: [Finding] = []
    private(set) var tally: [String: Int] = [:]

    init(anonymizer: Anonymizer, tally: [String: Int] = [:]) {
        self.anonymizer = anonymizer
        self.tally = tally
    }

    /// Appends `text` anonymized to `output`.
    mutating func anonymize(_ text: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        anonymizer.anonymize(text, into: &output, findings: &findings)
        for finding in findings { tally[finding.entityType, default: 0] += 1 }
    }

    mutating func anonymize(_ text: String) -> String {
        var text = text
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + 16)
        text.withUTF8 { anonymize($0, into: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    // MARK: JSON lines

    /// Appends `line` (one JSON object or array) with its string values anonymized — every string
    /// value, or those under the top-level `fields` — and the rest byte for byte. Returns why the
    /// line is not JSON of that shape, or nil.
    mutating func rewriteJSONLine(_ line: UnsafeBufferPointer<UInt8>, fields: Set<[UInt8]>?, into output: inout [UInt8]) -> String? {
        let mark = output.count
        var containers: [UInt8] = []          // '{' or '['
        var expectingKey = false
        var topKeySelected = fields == nil
        var index = 0
        var plain: [UInt8] = []
        var anonymized: [UInt8] = []
        func fail(_ reason: String) -> String {
            output.removeSubrange(mark...)
            return reason
        }
        while index < line.count {
            let byte = line[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if containers.isEmpty, index > 0, line[0..<index].contains(where: { !isSpace($0) }) { return fail("text before the JSON value") }
                containers.append(byte)
                expectingKey = byte == UInt8(ascii: "{")
                output.append(byte)
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard let open = containers.popLast(), open == (byte == UInt8(ascii: "}") ? UInt8(ascii: "{") : UInt8(ascii: "[")) else { return fail("a '\(Character(Unicode.Scalar(byte)))' that closes nothing") }
                expectingKey = false
                output.append(byte)
                index += 1
                if containers.isEmpty, line[index...].contains(where: { !isSpace($0) }) { return fail("text after the JSON value") }
            case UInt8(ascii: ","):
                expectingKey = containers.last == UInt8(ascii: "{")
                output.append(byte)
                index += 1
            case UInt8(ascii: "\""):
                guard !containers.isEmpty else { return fail("a line must be a JSON object or array") }
                // Find the closing quote; note whether there are escapes.
                var end = index + 1
                var escaped = false
                while end < line.count, line[end] != UInt8(ascii: "\"") {
                    if line[end] == UInt8(ascii: "\\") { escaped = true; end += 1 }
                    end += 1
                }
                guard end < line.count else { return fail("a string is not closed") }
                let raw = UnsafeBufferPointer(rebasing: line[index + 1..<end])
                if expectingKey {
                    if containers.count == 1, let fields {
                        if escaped {
                            plain.removeAll(keepingCapacity: true)
                            guard Self.unescape(raw, into: &plain) else { return fail("a key has a broken escape") }
                            topKeySelected = fields.contains(plain)
                        } else {
                            topKeySelected = fields.contains(Array(raw))
                        }
                    }
                    output.append(contentsOf: line[index...end])
                    expectingKey = false
                } else if topKeySelected || (containers.count == 1 && containers[0] == UInt8(ascii: "[") && fields == nil) {
                    anonymized.removeAll(keepingCapacity: true)
                    if escaped {
                        plain.removeAll(keepingCapacity: true)
                        guard Self.unescape(raw, into: &plain) else { return fail("a string has a broken escape") }
                        plain.withUnsafeBufferPointer { anonymize($0, into: &anonymized) }
                    } else {
                        anonymize(raw, into: &anonymized)
                    }
                    output.append(UInt8(ascii: "\""))
                    Self.escape(anonymized, into: &output)
                    output.append(UInt8(ascii: "\""))
                } else {
                    output.append(contentsOf: line[index...end])
                }
                index = end + 1
            case UInt8(ascii: ":"):
                output.append(byte)
                index += 1
            default:
                if containers.isEmpty, !isSpace(byte) { return fail("a line must be a JSON object or array") }
                output.append(byte)
                index += 1
            }
            // Leaving a top-level value: the next key decides again.
            if containers.count == 1, byte == UInt8(ascii: ","), fields != nil { topKeySelected = false }
        }
        guard containers.isEmpty else { return fail("the line ends inside an object or array") }
        return nil
    }

    @inline(__always) func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    /// JSON string escapes to UTF-8 (surrogate pairs joined); false for a broken escape.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) -> Bool {
        var index = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for byte in raw[at..<at + 4] {
                guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else { output.append(byte); index += 1; continue }
            guard index + 1 < raw.count else { return false }
            switch raw[index + 1] {
            case UInt8(ascii: "\""): output.append(0x22)
            case UInt8(ascii: "\\"): output.append(0x5C)
            case UInt8(ascii: "/"): output.append(0x2F)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(index + 2) else { return false }
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 2 < raw.count, raw[index + 2] == UInt8(ascii: "\\"), raw[index + 3] == UInt8(ascii: "u"),
                          let low = hex4(index + 4), (0xDC00...0xDFFF).contains(low) else { return false }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { return false }
                output.append(contentsOf: String(Character(unicode)).utf8)
            default:
                return false
            }
            index += 2
        }
        return true
    }

    /// `bytes` as the inside of a JSON string.
    static func escape(_ bytes: [UInt8], into output: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20: output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
    }

    // MARK: CSV

    /// Appends a CSV record with the chosen columns (all when nil) anonymized, quoting fields
    /// that need it.
    mutating func rewriteCSV(_ fields: [[UInt8]], columns: Set<Int>?, delimiter: UInt8, into output: inout [UInt8]) {
        var anonymized: [UInt8] = []
        for (position, field) in fields.enumerated() {
            if position > 0 { output.append(delimiter) }
            if columns?.contains(position) ?? true, !field.isEmpty {
                anonymized.removeAll(keepingCapacity: true)
                field.withUnsafeBufferPointer { anonymize($0, into: &anonymized) }
                Self.appendCSVField(anonymized, delimiter: delimiter, into: &output)
            } else {
                Self.appendCSVField(field, delimiter: delimiter, into: &output)
            }
        }
        output.append(0x0A)
    }

    static func appendCSVField(_ field: [UInt8], delimiter: UInt8, into output: inout [UInt8]) {
        guard field.contains(where: { $0 == delimiter || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
            output.append(contentsOf: field)
            return
        }
        output.append(0x22)
        for byte in field {
            if byte == 0x22 { output.append(0x22) }
            output.append(byte)
        }
        output.append(0x22)
    }
}
