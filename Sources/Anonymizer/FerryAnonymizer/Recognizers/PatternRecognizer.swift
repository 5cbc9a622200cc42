import CPCRE2

/// A compiled PCRE2 pattern (JIT-compiled where the platform allows), shared read-only by every
/// thread.
final class CompiledPattern: @unchecked Sendable {  // the code is immutable after compilation; each match gets its own match data
    let code: OpaquePointer
    let jit: Bool

    /// Presidio compiles with `re.DOTALL | re.MULTILINE | re.IGNORECASE`; so does this, in UTF
    /// mode that tolerates invalid UTF-8 in the subject.
    init(_ pattern: String, name: String) throws(AnonymizerError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let options = UInt32(PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL)
        let compiled = pattern.withCString { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count) {
                pcre2_compile_8($0, pattern.utf8.count, options, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let length = pcre2_get_error_message_8(errorCode, &message, message.count)
            let reason = String(decoding: message.prefix(max(0, Int(length))), as: UTF8.self)
            throw .invalidConfiguration("pattern '\(name)': \(reason) at offset \(errorOffset) of \(String(reflecting: String(pattern.prefix(200))))")
        }
        code = compiled
        jit = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
    }

    deinit { pcre2_code_free_8(code) }

    /// Calls `found` with the byte range of every non-overlapping match.
    func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Range<Int>) -> Void) {
        guard let base = text.baseAddress ?? UnsafePointer(bitPattern: 1) else { return }
        guard let data = pcre2_match_data_create_from_pattern_8(code, nil) else { return }
        defer { pcre2_match_data_free_8(data) }
        var offset = 0
        while offset <= text.count {
            let result = jit
                ? pcre2_jit_match_8(code, base, text.count, offset, 0, data, nil)
                : pcre2_match_8(code, base, text.count, offset, 0, data, nil)
            guard result >= 0, let vector = pcre2_get_ovector_pointer_8(data) else { return }
            let start = vector[0], end = vector[1]
            guard start <= end, end <= text.count else { return }
            if end > start { found(start..<end) }
            offset = end > start ? end : end + 1
        }
    }
}

/// A custom recognizer from configuration (Presidio's `PatternRecognizer`): regular expressions,
/// each with a score, and context words; or a deny list of words reported wherever they stand
/// alone (Presidio's `deny_list`, scored 1 unless `deny_list_score` says otherwise).
public struct PatternRecognizer: Recognizer {
    public let name: String
    public let entities: [String]
    public let context: [String]
    let patterns: [(pattern: CompiledPattern, score: Double)]

    init(_ configuration: CustomRecognizerConfiguration) throws(AnonymizerError) {
        name = configuration.name
        entities = [configuration.supportedEntity]
        context = configuration.context.map { $0.lowercased() }
        var compiled: [(CompiledPattern, Double)] = []
        for pattern in configuration.patterns {
            compiled.append((try CompiledPattern(pattern.regex, name: "\(configuration.name)/\(pattern.name)"), pattern.score))
        }
        if !configuration.denyList.isEmpty {
            // Words standing alone: not inside a longer word.
            let words = configuration.denyList.sorted { $0.utf8.count > $1.utf8.count }.map(Self.escape).joined(separator: "|")
            compiled.append((try CompiledPattern("(?<![\\w])(?:\(words))(?![\\w])", name: "\(configuration.name)/deny_list"), configuration.denyListScore))
        }
        patterns = compiled
    }

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        for (pattern, score) in patterns {
            pattern.forEachMatch(in: text) { range in
                findings.append(Finding(entityType: entities[0], start: range.lowerBound, end: range.upperBound, score: score, recognizer: name))
            }
        }
    }

    /// `word` as a literal in a pattern.
    static func escape(_ word: String) -> String {
        var escaped = ""
        for character in word {
            if "\\^$.|?*+()[]{}/#-".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
