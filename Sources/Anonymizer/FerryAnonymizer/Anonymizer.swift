/// Finds personal data and anonymizes it: Presidio's analyzer and anonymizer in one value,
/// configured once and shared by every thread.
///
/// Text is scanned as UTF-8 bytes; bytes that are not valid UTF-8 are scanned as they are (they
/// never match a recognizer) and kept in the output, so nothing is lost or invented.
public struct Anonymizer: Sendable {
    struct Armed: Sendable {
        let recognizer: any Recognizer
        /// Context words, lowercased; words of up to 3 bytes must match whole.
        let context: [[UInt8]]
    }

    let recognizers: [Armed]
    let configuration: AnonymizerConfiguration
    let operators: [String: Operator]
    let defaultOperator: Operator
    let allowList: Set<[UInt8]>

    /// The built-in recognizers, one per entity family.
    public static func builtInRecognizers() -> [any Recognizer] {
        [
            EmailRecognizer(), URLRecognizer(), IPRecognizer(), CreditCardRecognizer(), IBANRecognizer(), USSSNRecognizer(),
            CryptoRecognizer(), PhoneRecognizer(), DateRecognizer(), PersonRecognizer(), LocationRecognizer(),
        ]
    }

    /// - Parameters:
    ///   - environment: where keys named by `key_env` are read.
    ///   - extraContext: context words for every recognizer besides its own (Presidio's
    ///     request-level `context`).
    public init(configuration: AnonymizerConfiguration = .init(), environment: [String: String] = [:], extraContext: [String] = []) throws(AnonymizerError) {
        guard configuration.scoreThreshold.isFinite, (0...1).contains(configuration.scoreThreshold) else {
            throw .invalidConfiguration("score_threshold \(configuration.scoreThreshold) is not from 0 to 1")
        }
        guard (0...50).contains(configuration.contextPrefixCount), (0...50).contains(configuration.contextSuffixCount) else {
            throw .invalidConfiguration("context_prefix_count and context_suffix_count must be from 0 to 50")
        }
        var all = Self.builtInRecognizers()
        for custom in configuration.recognizers { all.append(try PatternRecognizer(custom)) }
        let known = Set(all.flatMap(\.entities))
        if let wanted = configuration.entities {
            if let unknown = wanted.first(where: { !known.contains($0) }) {
                throw .invalidConfiguration("entities: '\(unknown.prefix(64))' is not recognized; known: \(known.sorted().joined(separator: ", "))")
            }
            all = all.filter { $0.entities.contains(where: wanted.contains) }
        }
        recognizers = all.map { recognizer in
            Armed(recognizer: recognizer, context: (recognizer.context + extraContext).map { Array($0.lowercased().utf8) })
        }
        var operators: [String: Operator] = [:]
        var fallback = Operator.replace(nil)
        for (entity, operatorConfiguration) in configuration.operators {
            let made = try Operator(operatorConfiguration, environment: environment)
            if entity == "DEFAULT" { fallback = made } else { operators[entity] = made }
        }
        self.operators = operators
        defaultOperator = fallback
        allowList = Set(configuration.allowList.map { Array($0.utf8) })
        self.configuration = configuration
    }

    /// The operator applied to `entity`.
    public func operatorFor(_ entity: String) -> Operator { operators[entity] ?? defaultOperator }

    // MARK: Analysis

    /// The findings in `text`, overlaps resolved, in text order; `findings` is reused.
    public func analyze(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        findings.removeAll(keepingCapacity: true)
        for armed in recognizers {
            let first = findings.count
            armed.recognizer.scan(text, into: &findings)
            guard !armed.context.isEmpty else { continue }
            for position in first..<findings.count where findings[position].score < Score.validated {
                if hasContext(text, findings[position], armed.context) {
                    let before = findings[position].score
                    findings[position].score = min(Score.validated, max(before + Score.contextBoost, Score.contextFloor))
                    findings[position].contextImprovement = findings[position].score - before
                }
            }
        }
        let threshold = configuration.scoreThreshold
        if threshold > 0 || !allowList.isEmpty {
            findings.removeAll { $0.score < threshold || (!allowList.isEmpty && allowList.contains(Array(text[$0.start..<$0.end]))) }
        }
        if findings.count > 1 { Self.resolveConflicts(&findings, text) }
    }

    /// The findings in `text`.
    public func analyze(_ text: String) -> [Finding] {
        var findings: [Finding] = []
        var text = text
        text.withUTF8 { analyze($0, into: &findings) }
        return findings
    }

    /// Whether a context word stands among the words just before (or after) `finding`.
    func hasContext(_ text: UnsafeBufferPointer<UInt8>, _ finding: Finding, _ context: [[UInt8]]) -> Bool {
        func matches(_ range: Range<Int>) -> Bool {
            context.contains { candidate in
                guard candidate.count <= 3 ? range.count == candidate.count : range.count >= candidate.count else { return false }
                for offset in 0..<candidate.count where foldedByte(text, range.lowerBound + offset, from: range.lowerBound) != candidate[offset] { return false }
                return true
            }
        }
        var index = finding.start
        for _ in 0..<configuration.contextPrefixCount {
            while index > 0, !text.isWord(index - 1) { index -= 1 }
            guard index > 0 else { break }
            let end = index
            while text.isWord(index - 1) { index -= 1 }
            if matches(index..<end) { return true }
        }
        index = finding.end
        for _ in 0..<configuration.contextSuffixCount {
            while index < text.count, !text.isWord(index) { index += 1 }
            guard index < text.count else { break }
            let start = index
            index = text.wordEnd(from: index)
            if matches(start..<index) { return true }
        }
        return false
    }

    /// Presidio's resolution: findings of one type that overlap merge into one (the higher
    /// score); of different types, the higher score wins (the longer on a tie) — a finding inside
    /// the winner is dropped, one that sticks out keeps only what does not overlap.
    static func resolveConflicts(_ findings: inout [Finding], _ text: UnsafeBufferPointer<UInt8>) {
        findings.sort { ($0.entityType, $0.start) < ($1.entityType, $1.start) }
        var merged: [Finding] = []
        merged.reserveCapacity(findings.count)
        for finding in findings {
            if let last = merged.last, last.entityType == finding.entityType, last.end > finding.start {
                var union = finding.score > last.score ? finding : last
                union.start = last.start
                union.end = max(last.end, finding.end)
                merged[merged.count - 1] = union
            } else {
                merged.append(finding)
            }
        }
        merged.sort { ($1.score, $1.length, $0.start) < ($0.score, $0.length, $1.start) }
        var accepted: [Finding] = []
        accepted.reserveCapacity(merged.count)
        for var finding in merged {
            for other in accepted where other.overlaps(finding) {
                if other.contains(finding) { finding.end = finding.start; break }
                // Keep the longer uncovered side, trimmed of spaces and punctuation.
                if other.start <= finding.start { finding.start = other.end } else { finding.end = other.start }
                while finding.start < finding.end, !text.isWord(finding.start) { finding.start += 1 }
                while finding.end > finding.start, !text.isWord(finding.end - 1) { finding.end -= 1 }
            }
            if finding.length >= 2 { accepted.append(finding) }
        }
        accepted.sort { $0.start < $1.start }
        findings = accepted
    }

    // MARK: Anonymization

    /// Appends `text` anonymized to `output`; `findings` gets what was found (input spans).
    public func anonymize(_ text: UnsafeBufferPointer<UInt8>, into output: inout [UInt8], findings: inout [Finding]) {
        analyze(text, into: &findings)
        var copied = 0
        for finding in findings {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: text[copied..<finding.start]))
            operatorFor(finding.entityType).apply(UnsafeBufferPointer(rebasing: text[finding.start..<finding.end]), entity: finding.entityType, to: &output)
            copied = finding.end
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: text[copied..<text.count]))
    }

    /// `text` anonymized, with Presidio's result items: where each replacement stands in the new
    /// text (character offsets), its entity, operator and score.
    public func anonymize(_ text: String) -> AnonymizedText {
        var findings: [Finding] = []
        var output: [UInt8] = []
        var text = text
        var items: [AnonymizedText.Item] = []
        text.withUTF8 { bytes in
            analyze(bytes, into: &findings)
            var copied = 0
            for finding in findings {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<finding.start]))
                let start = output.count
                let chosen = operatorFor(finding.entityType)
                chosen.apply(UnsafeBufferPointer(rebasing: bytes[finding.start..<finding.end]), entity: finding.entityType, to: &output)
                items.append(.init(entityType: finding.entityType, start: start, end: output.count, operator: chosen.name, score: finding.score, text: ""))
                copied = finding.end
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<bytes.count]))
        }
        // Byte offsets to character (Unicode scalar) offsets, as Presidio counts.
        output.withUnsafeBufferPointer { bytes in
            for position in items.indices {
                items[position].text = String(decoding: UnsafeBufferPointer(rebasing: bytes[items[position].start..<items[position].end]), as: UTF8.self)
                items[position].start = scalarOffset(bytes, items[position].start)
                items[position].end = scalarOffset(bytes, items[position].end)
            }
        }
        return AnonymizedText(text: String(decoding: output, as: UTF8.self), items: items)
    }
}

/// The number of Unicode scalars before byte `offset` (UTF-8 continuation bytes not counted).
public func scalarOffset(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int {
    var count = 0
    for index in 0..<offset where bytes[index] & 0xC0 != 0x80 { count += 1 }
    return count
}

/// Anonymized text and what was done where (Presidio's `EngineResult`).
public struct AnonymizedText: Sendable, Equatable, Codable {
    public struct Item: Sendable, Equatable, Codable {
        public var entityType: String
        /// Character offsets in the anonymized text.
        public var start: Int
        public var end: Int
        public var `operator`: String
        public var score: Double
        /// The replacement as it stands in the new text.
        public var text: String

        enum CodingKeys: String, CodingKey {
            case start, end, score, text, `operator`
            case entityType = "entity_type"
        }
    }

    public var text: String
    public var items: [Item]
}

/// Findings as Presidio's analyzer reports them: character offsets into the text.
public struct AnalyzedText: Sendable, Equatable {
    public struct Item: Sendable, Equatable, Codable {
        public var entityType: String
        public var start: Int
        public var end: Int
        public var score: Double
        public var recognizer: String

        enum CodingKeys: String, CodingKey {
            case start, end, score, recognizer
            case entityType = "entity_type"
        }
    }

    public var items: [Item]

    /// `findings` of `text` (byte spans) in characters.
    public init(_ text: String, _ findings: [Finding]) {
        var text = text
        items = text.withUTF8 { bytes in
            findings.map { Item(entityType: $0.entityType, start: scalarOffset(bytes, $0.start), end: scalarOffset(bytes, $0.end), score: $0.score, recognizer: $0.recognizer) }
        }
    }
}
