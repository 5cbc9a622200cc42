import Foundation

/// Reads a job envelope straight from its bytes: the one parse every fetched job goes through.
///
/// Foundation's `JSONDecoder` spent more of a worker's time in generic metadata lookups and
/// dictionaries than the no-op jobs it decoded. This reader walks the bytes once, fills the
/// envelope's fields directly and builds `JSONValue`s only for `args`. It reads what `JSONDecoder`
/// reads, the same way (`JobReaderTests` compares the two on random and corrupted payloads):
/// an integral number that fits in 64 bits is an integer, others are doubles; a repeated key keeps
/// its first value; unknown fields are ignored, their strings unchecked. It refuses more only what
/// is not JSON (a malformed number or invalid UTF-8 inside a field it does not know).
enum JobReader {
    /// Why bytes are not a job, as `QueueError.malformedJob` explains it.
    struct Failure: Error {
        let reason: String
    }

    /// Nesting deeper than this is refused (as `JSONDecoder` refuses it).
    static let maximumDepth = 512

    static func decode(_ bytes: [UInt8]) throws(Failure) -> Job {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) -> Job in
            var reader = Reader(bytes: buffer)
            let job = try reader.job()
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw reader.invalid("unexpected bytes after the job") }
            return job
        }
    }

    /// Any JSON document, read as `JSONDecoder` reads it into a ``JSONValue`` (without its cost).
    static func value(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) -> JSONValue in
            var reader = Reader(bytes: buffer)
            let value = try reader.value(depth: 1)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw reader.invalid("unexpected bytes after the value") }
            return value
        }
    }

    /// The values of `fields` in a document; nil when it is not an object.
    static func fields(_ fields: JSONFields, in bytes: [UInt8]) throws(Failure) -> [JSONValue?]? {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) -> [JSONValue?]? in
            var reader = Reader(bytes: buffer)
            var values = [JSONValue?](repeating: nil, count: fields.paths.count)
            reader.skipWhitespace()
            let isObject = reader.index < buffer.count && buffer[reader.index] == UInt8(ascii: "{")
            try reader.pick(fields.root, depth: 1, into: &values)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw reader.invalid("unexpected bytes after the value") }
            return isObject ? values : nil
        }
    }

    private struct Reader {
        /// True the first time field number `bit` is met in an envelope.
        static func first(_ bit: Int, _ seen: inout UInt32) -> Bool {
            defer { seen |= 1 << bit }
            return seen & (1 << bit) == 0
        }

        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        func invalid(_ what: String) -> Failure {
            Failure(reason: "not valid JSON: \(what) at byte \(index)")
        }

        func wrongType(_ field: String, _ expected: String) -> Failure {
            Failure(reason: "field '\(field)' has the wrong type: expected \(expected)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// Consumes `byte` (after whitespace) or throws.
        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { throw invalid("expected \(what)") }
            index += 1
        }

        /// Consumes `byte` (after whitespace) if it is next.
        mutating func take(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        // MARK: The envelope

        mutating func job() throws(Failure) -> Job {
            var id: String?, type: String?, queue: String?, args: JSONValue?
            var attempt: Int?, maxAttempts: Int?, createdAt: Double?, enqueuedAt: Double?
            var runAt: Double?, uniqueKey: String?, timeoutS: Double?, error: JobFailure?, tick: Double?, failures: [JobFailure]?
            var batch: String?, then: JSONValue?
            var keepRecord: Bool?, expiresAt: Double?, origin: JSONValue?
            var seen: UInt32 = 0
            try expect(UInt8(ascii: "{"), "an object")
            if !take(UInt8(ascii: "}")) {
                repeat {
                    skipWhitespace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"), "':'")
                    // A repeated field keeps its first value, as JSONDecoder does: a later one is skipped.
                    switch key {
                    case "id" where Self.first(0, &seen): id = try requiredString(key)
                    case "type" where Self.first(1, &seen): type = try requiredString(key)
                    case "queue" where Self.first(2, &seen): queue = try requiredString(key)
                    case "args" where Self.first(3, &seen): args = try value(depth: 1)
                    case "attempt" where Self.first(4, &seen): attempt = try requiredInt(key)
                    case "max_attempts" where Self.first(5, &seen): maxAttempts = try requiredInt(key)
                    case "created_at" where Self.first(6, &seen): createdAt = try requiredDouble(key)
                    case "enqueued_at" where Self.first(7, &seen): enqueuedAt = try requiredDouble(key)
                    case "run_at" where Self.first(8, &seen): runAt = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredDouble(key) }
                    case "unique_key" where Self.first(9, &seen): uniqueKey = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredString(key) }
                    case "timeout_s" where Self.first(10, &seen): timeoutS = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredDouble(key) }
                    case "tick" where Self.first(11, &seen): tick = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredDouble(key) }
                    case "error" where Self.first(12, &seen): error = try optional { (reader: inout Reader) throws(Failure) in try reader.failure() }
                    case "batch" where Self.first(13, &seen): batch = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredString(key) }
                    case "failures" where Self.first(15, &seen):
                        failures = try optional { (reader: inout Reader) throws(Failure) in
                            guard reader.take(UInt8(ascii: "[")) else { throw reader.wrongType(key, "an array") }
                            var list: [JobFailure] = []
                            reader.skipWhitespace()
                            if !reader.take(UInt8(ascii: "]")) {
                                repeat {
                                    reader.skipWhitespace()
                                    list.append(try reader.failure())
                                    reader.skipWhitespace()
                                } while reader.take(UInt8(ascii: ","))
                                try reader.expect(UInt8(ascii: "]"), "',' or ']'")
                            }
                            return list
                        }
                    case "keep_record" where Self.first(16, &seen):
                        keepRecord = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredBool(key) }
                    case "expires_at" where Self.first(17, &seen):
                        expiresAt = try optional { (reader: inout Reader) throws(Failure) in try reader.requiredDouble(key) }
                    case "origin" where Self.first(18, &seen): origin = try optional { (reader: inout Reader) throws(Failure) in try reader.value(depth: 1) }
                    case "then" where Self.first(14, &seen): then = try optional { (reader: inout Reader) throws(Failure) in try reader.value(depth: 1) }
                    default: try skip(depth: 1)
                    }
                } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"), "',' or '}'")
            }
            func missing(_ field: String) -> Failure { Failure(reason: "missing field '\(field)'") }
            guard let id else { throw missing("id") }
            guard let type else { throw missing("type") }
            guard let queue else { throw missing("queue") }
            guard let args else { throw missing("args") }
            guard let attempt else { throw missing("attempt") }
            guard let maxAttempts else { throw missing("max_attempts") }
            guard let createdAt else { throw missing("created_at") }
            guard let enqueuedAt else { throw missing("enqueued_at") }
            return Job(
                id: id, type: type, queue: queue, args: args, attempt: attempt, maxAttempts: maxAttempts, createdAt: createdAt,
                enqueuedAt: enqueuedAt, runAt: runAt, uniqueKey: uniqueKey, timeoutS: timeoutS, error: error, failures: failures, tick: tick,
                batch: batch, then: then, keepRecord: keepRecord, expiresAt: expiresAt, origin: origin
            )
        }

        /// `{"type": …, "message": …, "at": …}`
        mutating func failure() throws(Failure) -> JobFailure {
            var type: String?, message: String?, at: Double?
            guard take(UInt8(ascii: "{")) else { throw wrongType("error", "an object") }
            if !take(UInt8(ascii: "}")) {
                repeat {
                    skipWhitespace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"), "':'")
                    switch key {
                    case "type": type = try requiredString("error.type")
                    case "message": message = try requiredString("error.message")
                    case "at": at = try requiredDouble("error.at")
                    default: try skip(depth: 2)
                    }
                } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"), "',' or '}'")
            }
            guard let type else { throw Failure(reason: "missing field 'error.type'") }
            guard let message else { throw Failure(reason: "missing field 'error.message'") }
            guard let at else { throw Failure(reason: "missing field 'error.at'") }
            return JobFailure(type: type, message: message, at: at)
        }

        /// Nil for `null`, else what `read` reads.
        mutating func optional<T>(_ read: (inout Reader) throws(Failure) -> T) throws(Failure) -> T? {
            skipWhitespace()
            if isNext("null") {
                index += 4
                return nil
            }
            return try read(&self)
        }

        mutating func requiredString(_ field: String) throws(Failure) -> String {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw wrongType(field, "a string") }
            return try string()
        }

        mutating func requiredBool(_ field: String) throws(Failure) -> Bool {
            skipWhitespace()
            for (literal, value) in [("true", true), ("false", false)] where bytes[index...].starts(with: literal.utf8) {
                index += literal.utf8.count
                return value
            }
            throw wrongType(field, "true or false")
        }

        mutating func requiredInt(_ field: String) throws(Failure) -> Int {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "-") || (0x30...0x39).contains(bytes[index]) else {
                throw wrongType(field, "a whole number")
            }
            guard let value = try number().int else { throw wrongType(field, "a whole number") }
            return value
        }

        mutating func requiredDouble(_ field: String) throws(Failure) -> Double {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "-") || (0x30...0x39).contains(bytes[index]) else {
                throw wrongType(field, "a number")
            }
            guard let value = try number().double else { throw wrongType(field, "a number") }
            return value
        }

        func isNext(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
            return true
        }

        // MARK: Any value

        mutating func value(depth: Int) throws(Failure) -> JSONValue {
            guard depth <= JobReader.maximumDepth else { throw invalid("nesting deeper than \(JobReader.maximumDepth)") }
            skipWhitespace()
            guard index < bytes.count else { throw invalid("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [String: JSONValue] = [:]
                if take(UInt8(ascii: "}")) { return .object(members) }
                repeat {
                    skipWhitespace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"), "':'")
                    let member = try value(depth: depth + 1)
                    // A repeated key keeps its first value, as JSONDecoder does.
                    if members[key] == nil { members[key] = member }
                } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"), "',' or '}'")
                return .object(members)
            case UInt8(ascii: "["):
                index += 1
                var elements: [JSONValue] = []
                if take(UInt8(ascii: "]")) { return .array(elements) }
                repeat {
                    elements.append(try value(depth: depth + 1))
                } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return .array(elements)
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t") where isNext("true"):
                index += 4
                return .bool(true)
            case UInt8(ascii: "f") where isNext("false"):
                index += 5
                return .bool(false)
            case UInt8(ascii: "n") where isNext("null"):
                index += 4
                return .null
            case UInt8(ascii: "-"), 0x30...0x39:
                return try number()
            default:
                throw invalid("unexpected character")
            }
        }

        /// Reads the members of an object that `node` names into `values` and steps over the
        /// others (as unknown fields are stepped over); a value that is not an object is stepped over.
        mutating func pick(_ node: JSONFields.Node, depth: Int, into values: inout [JSONValue?]) throws(Failure) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return try skip(depth: depth) }
            guard depth <= JobReader.maximumDepth else { throw invalid("nesting deeper than \(JobReader.maximumDepth)") }
            index += 1
            if take(UInt8(ascii: "}")) { return }
            repeat {
                skipWhitespace()
                let member = try member(of: node)
                try expect(UInt8(ascii: ":"), "':'")
                if let member, let field = member.field {
                    // A repeated key keeps its first value.
                    if values[field] == nil { values[field] = try value(depth: depth + 1) } else { try skip(depth: depth + 1) }
                } else if let member, let inner = member.node {
                    try pick(inner, depth: depth + 1, into: &values)
                } else {
                    try skip(depth: depth + 1)
                }
            } while take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"), "',' or '}'")
        }

        /// Reads a key and says which of `node`'s members it is, comparing bytes: no string is
        /// built for the keys passed over. A key with escapes is decoded first.
        mutating func member(of node: JSONFields.Node) throws(Failure) -> JSONFields.Member? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw invalid("expected a string") }
            var end = index + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
            guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else {
                let key = Array(try string().utf8)
                return node.members.first { $0.key == key }
            }
            let start = index + 1, count = end - start
            index = end + 1
            for member in node.members where member.key.count == count {
                let same = count == 0 || member.key.withUnsafeBufferPointer { key in memcmp(key.baseAddress!, bytes.baseAddress! + start, count) == 0 }
                if same { return member }
            }
            return nil
        }

        /// Steps over the value of a field Ferry does not know: its structure is checked, but, as
        /// `JSONDecoder` does, not the text of its strings (so another producer's extra field with
        /// odd bytes does not make the job unreadable).
        mutating func skip(depth: Int) throws(Failure) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                _ = try value(depth: depth)
                return
            }
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw invalid("unexpected end") }
                    switch bytes[index] {
                    case UInt8(ascii: "u"):
                        index += 1
                        _ = try hex4()
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                         UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    default:
                        throw invalid("an invalid escape in a string")
                    }
                case 0..<0x20:
                    throw invalid("a control character in a string")
                default:
                    index += 1
                }
            }
            throw invalid("an unterminated string")
        }

        /// A JSON number: an integer when it is integral and fits in 64 bits, else a double.
        mutating func number() throws(Failure) -> JSONValue {
            let start = index
            var integral = true
            // Digits that make an integer up to 2^53 fit a Double exactly: then the value needs
            // no text conversion (19 digits cannot overflow the accumulator).
            var mantissa: UInt64 = 0
            var digits = 0
            var fractionDigits = 0
            let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw invalid("a number needs digits") }
            if bytes[index] == 0x30 {
                index += 1
                digits = 1
                if index < bytes.count, (0x30...0x39).contains(bytes[index]) { throw invalid("a number may not start with 0") }
            } else {
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                    if digits < 19 { mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30) }
                    digits += 1
                    index += 1
                }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw invalid("a fraction needs digits") }
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                    if digits < 19 { mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30) }
                    digits += 1
                    fractionDigits += 1
                    index += 1
                }
            }
            var exponent = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                integral = false
                exponent = true
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw invalid("an exponent needs digits") }
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            }
            if !exponent, digits <= 19, mantissa <= 1 << 53, fractionDigits <= 22 {
                // Exact: an integer up to 2^53 divided by a power of ten up to 10^22 (both exact
                // doubles) is one correctly rounded division, what parsing the text gives.
                if integral { return .int(negative ? -Int64(mantissa) : Int64(mantissa)) }
                let magnitude = Double(mantissa) / Self.powersOfTen[fractionDigits]
                let value = negative ? -magnitude : magnitude
                if let exact = Int64(exactly: value) { return .int(exact) }
                return .double(value)
            }
            let digitsText = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if integral, let value = Self.int64(digitsText) { return .int(value) }
            guard let value = Self.double(digitsText), value.isFinite else {
                throw invalid("the number \(String(decoding: digitsText, as: UTF8.self)) is out of range")
            }
            if let exact = Int64(exactly: value) { return .int(exact) }
            return .double(value)
        }

        /// The value of an optional minus and decimal digits, nil when it does not fit in 64 bits.
        private static func int64(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
            let negative = text.first == UInt8(ascii: "-")
            var magnitude: UInt64 = 0
            for digit in text.dropFirst(negative ? 1 : 0) {
                let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(digit - 0x30))
                guard !overflow, !carry else { return nil }
                magnitude = sum
            }
            if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
            return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
        }

        /// The correctly rounded value of a JSON number's text (checked already) with no `String`
        /// made for it: `strtod` on a copy with a terminating NUL, kept on the stack. Should a
        /// locale other than "C" make `strtod` stop early, the text is parsed as Swift parses it.
        private static func double(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
            let parsed = withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer -> Double? in
                for (offset, byte) in text.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
                buffer[text.count] = 0
                var end: UnsafeMutablePointer<CChar>?
                let value = strtod(buffer.baseAddress!, &end)
                return end == buffer.baseAddress! + text.count ? value : nil
            }
            return parsed ?? Double(String(decoding: text, as: UTF8.self))
        }

        private static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { value, _ in value * 10 } }

        /// A JSON string (the opening quote is next), unescaped and checked to be UTF-8.
        mutating func string() throws(Failure) -> String {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw invalid("expected a string") }
            index += 1
            let start = index
            var ascii = true
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    return ascii ? String(decoding: raw, as: UTF8.self) : try utf8(raw)
                }
                ascii = ascii && byte < 0x80
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw invalid("a control character in a string") }
                index += 1
            }
            var unescaped = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return try unescaped.withUnsafeBufferPointer { buffer throws(Failure) in try utf8(buffer) }
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw invalid("unexpected end") }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escaped)
                    case UInt8(ascii: "b"): unescaped.append(0x08)
                    case UInt8(ascii: "f"): unescaped.append(0x0C)
                    case UInt8(ascii: "n"): unescaped.append(0x0A)
                    case UInt8(ascii: "r"): unescaped.append(0x0D)
                    case UInt8(ascii: "t"): unescaped.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard isNext("\\u") else { throw invalid("a lone surrogate in a string") }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw invalid("a lone surrogate in a string") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw invalid("a lone surrogate in a string")
                        }
                        guard let character = Unicode.Scalar(scalar) else { throw invalid("an invalid \\u escape") }
                        unescaped.append(contentsOf: UTF8.encode(character)!)
                    default:
                        throw invalid("an invalid escape in a string")
                    }
                default:
                    guard byte >= 0x20 else { throw invalid("a control character in a string") }
                    unescaped.append(byte)
                }
            }
            throw invalid("an unterminated string")
        }

        /// `raw` as a string, refused unless it is valid UTF-8. (Decoding repairs invalid bytes, so
        /// a string whose bytes differ from `raw` was not valid; this avoids the generic
        /// `String(validating:as:)`, whose metadata lookup showed in every job's profile.)
        func utf8(_ raw: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            let unchanged = text.utf8.withContiguousStorageIfAvailable { decoded in
                decoded.count == raw.count && (raw.isEmpty || memcmp(decoded.baseAddress!, raw.baseAddress!, raw.count) == 0)
            } ?? text.utf8.elementsEqual(raw)
            guard unchanged else { throw invalid("a string is not UTF-8") }
            return text
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw invalid("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw invalid("a \\u escape needs four hex digits")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}
