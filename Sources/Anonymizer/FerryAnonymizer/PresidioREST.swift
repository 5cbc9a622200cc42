public import Crypto
import _CryptoExtras
public import Foundation

/// Presidio's REST contracts — the analyzer's `POST /analyze` and the anonymizer's
/// `POST /anonymize` and `POST /deanonymize` — with their request and response JSON, so that a
/// service written against presidio-analyzer and presidio-anonymizer switches by changing its base
/// URL. Offsets are characters (Unicode scalars), as Python counts them.
///
/// Keys for `encrypt` and `decrypt` and the `salt` of `hash` come in the request, as Presidio
/// takes them: they are the caller's own, used for that request only, and never logged.
public enum PresidioREST: Sendable {
    /// What went wrong with a request, said as Presidio says it: a status (400 for a request it
    /// cannot read, 422 for parameters out of range) and `{"error": message}`.
    public struct BadRequest: Error, Sendable, CustomStringConvertible {
        public var status: Int
        public var message: String
        public var description: String { message }
        init(_ message: String, status: Int = 400) {
            self.message = message
            self.status = status
        }

        /// Presidio's error body.
        public var json: [UInt8] {
            Array((try? JSONEncoder().encode(["error": message])) ?? Data(#"{"error": "invalid request"}"#.utf8))
        }
    }

    /// `GET /anonymizers`: the operators `anonymize` takes.
    public static let anonymizers = ["hash", "mask", "redact", "replace", "encrypt", "keep"]
    /// `GET /deanonymizers`.
    public static let deanonymizers = ["decrypt"]

    /// `GET /supportedentities`: the built-in entities.
    public static var supportedEntities: [String] { Entity.all }

    /// `GET /recognizers`: the built-in recognizers' names.
    public static var recognizers: [String] { Anonymizer.builtInRecognizers().map(\.name) }

    /// The languages the built-in recognizers read.
    public static let languages = ["en", "de"]

    // MARK: POST /analyze

    /// Presidio's `AnalyzerRequest`.
    public struct AnalyzeRequest: Decodable, Sendable {
        /// One text, or several (a batch: one list of results each).
        public var text: Texts
        public var language: String
        public var entities: [String]?
        public var scoreThreshold: Double?
        public var adHocRecognizers: [CustomRecognizerConfiguration]?
        public var allowList: [String]?
        public var allowListMatch: String?
        public var context: [String]?
        public var correlationID: String?
        public var returnDecisionProcess: Flag?
        /// Python `re` flags for a regex allow list (default: DOTALL | MULTILINE | IGNORECASE).
        public var regexFlags: Int?

        public enum Texts: Decodable, Sendable {
            case one(String)
            case batch([String])

            public init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) { self = .one(text) } else { self = .batch(try container.decode([String].self)) }
            }
        }

        /// `true`/`false`, or `1`/`0` as Python clients send it.
        public struct Flag: Decodable, Sendable {
            public var value: Bool
            public init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let flag = try? container.decode(Bool.self) { value = flag } else { value = try container.decode(Int.self) != 0 }
            }
        }

        enum CodingKeys: String, CodingKey {
            case text, language, entities, context
            case regexFlags = "regex_flags"
            case scoreThreshold = "score_threshold"
            case adHocRecognizers = "ad_hoc_recognizers"
            case allowList = "allow_list"
            case allowListMatch = "allow_list_match"
            case correlationID = "correlation_id"
            case returnDecisionProcess = "return_decision_process"
        }
    }

    /// Presidio's `RecognizerResult` as its REST API returns it.
    public struct RecognizerResult: Codable, Sendable, Equatable {
        public var entityType: String
        public var start: Int
        public var end: Int
        public var score: Double
        public var analysisExplanation: Explanation?
        public var recognitionMetadata: Metadata

        public struct Metadata: Codable, Sendable, Equatable {
            public var recognizerName: String
            public var recognizerIdentifier: String

            enum CodingKeys: String, CodingKey {
                case recognizerName = "recognizer_name"
                case recognizerIdentifier = "recognizer_identifier"
            }
        }

        /// Presidio's `AnalysisExplanation` (with `return_decision_process`).
        public struct Explanation: Codable, Sendable, Equatable {
            public var recognizer: String
            public var originalScore: Double
            public var score: Double
            public var scoreContextImprovement: Double
            public var textualExplanation: String

            enum CodingKeys: String, CodingKey {
                case recognizer, score
                case originalScore = "original_score"
                case scoreContextImprovement = "score_context_improvement"
                case textualExplanation = "textual_explanation"
            }
        }

        enum CodingKeys: String, CodingKey {
            case start, end, score
            case entityType = "entity_type"
            case analysisExplanation = "analysis_explanation"
            case recognitionMetadata = "recognition_metadata"
        }

        /// Presidio writes `null` for a missing explanation; so does this.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(entityType, forKey: .entityType)
            try container.encode(start, forKey: .start)
            try container.encode(end, forKey: .end)
            try container.encode(score, forKey: .score)
            try container.encode(analysisExplanation, forKey: .analysisExplanation)
            try container.encode(recognitionMetadata, forKey: .recognitionMetadata)
        }
    }

    /// What `POST /analyze` answers: the results of one text, or of each text of a batch.
    public enum AnalyzeAnswer: Encodable, Sendable {
        case one([RecognizerResult])
        case batch([[RecognizerResult]])

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .one(let results): try container.encode(results)
            case .batch(let results): try container.encode(results)
            }
        }
    }

    /// Answers `POST /analyze`: the findings in the request's text, as Presidio lists them.
    public static func analyze(_ body: some DataProtocol) throws(BadRequest) -> AnalyzeAnswer {
        let request: AnalyzeRequest = try decode(body, "the body must be an AnalyzerRequest: {\"text\": \"…\", \"language\": \"en\"}")
        guard languages.contains(request.language) else {
            throw BadRequest("No matching recognizers were found to serve the request: language '\(request.language.prefix(20))' (supported: \(languages.joined(separator: ", ")))")
        }
        let regexAllowList: Regex<AnyRegexOutput>?
        switch request.allowListMatch ?? "exact" {
        case "exact": regexAllowList = nil
        case "regex":
            // Python's re.IGNORECASE is 2; Presidio's default flags include it.
            let flags = request.regexFlags ?? 26
            do {
                let regex = try Regex((request.allowList ?? []).map { "(?:\($0))" }.joined(separator: "|"))
                regexAllowList = flags & 2 != 0 ? regex.ignoresCase() : regex
            } catch {
                throw BadRequest("allow_list is not a list of regular expressions: \(error)")
            }
        case let other: throw BadRequest("allow_list_match '\(other.prefix(20))' is not supported: exact or regex")
        }
        let threshold = request.scoreThreshold ?? 0
        guard threshold.isFinite, (0...1).contains(threshold) else { throw BadRequest("score_threshold must be from 0 to 1") }
        let configuration = AnonymizerConfiguration(
            entities: request.entities.flatMap { $0.isEmpty ? nil : $0 }, scoreThreshold: threshold,
            allowList: regexAllowList == nil ? request.allowList ?? [] : [], recognizers: request.adHocRecognizers ?? []
        )
        let anonymizer: Anonymizer
        do {
            anonymizer = try Anonymizer(configuration: configuration, extraContext: request.context ?? [])
        } catch {
            throw BadRequest(error.description)
        }
        let explain = request.returnDecisionProcess?.value ?? false
        func results(_ text: String) -> [RecognizerResult] {
            var text = text
            return text.withUTF8 { bytes in
                var findings: [Finding] = []
                anonymizer.analyze(bytes, into: &findings)
                if let regexAllowList {
                    findings.removeAll { finding in
                        let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[finding.start..<finding.end]), as: UTF8.self)
                        return (try? regexAllowList.wholeMatch(in: found)) != nil
                    }
                }
                return findings.map { finding in
                    var explanation: RecognizerResult.Explanation?
                    if explain {
                        explanation = .init(
                            recognizer: finding.recognizer, originalScore: finding.score - finding.contextImprovement, score: finding.score,
                            scoreContextImprovement: finding.contextImprovement,
                            textualExplanation: "Identified as \(finding.entityType) by \(finding.recognizer)"
                                + (finding.contextImprovement > 0 ? ", raised by a context word nearby" : "")
                        )
                    }
                    return RecognizerResult(
                        entityType: finding.entityType, start: scalarOffset(bytes, finding.start), end: scalarOffset(bytes, finding.end), score: finding.score,
                        analysisExplanation: explanation, recognitionMetadata: .init(recognizerName: finding.recognizer, recognizerIdentifier: finding.recognizer)
                    )
                }
            }
        }
        switch request.text {
        case .one(let text): return .one(results(text))
        case .batch(let texts): return .batch(texts.map(results))
        }
    }

    // MARK: POST /anonymize

    /// One operator as the anonymizer's REST API takes it.
    public struct OperatorRequest: Decodable, Sendable {
        public var type: String
        public var newValue: String?
        public var maskingChar: String?
        public var charsToMask: Int?
        public var fromEnd: Bool?
        public var hashType: String?
        public var salt: String?
        public var key: String?

        enum CodingKeys: String, CodingKey {
            case type, salt, key
            case newValue = "new_value"
            case maskingChar = "masking_char"
            case charsToMask = "chars_to_mask"
            case fromEnd = "from_end"
            case hashType = "hash_type"
        }
    }

    /// A span to anonymize: an analyzer result (`score` is optional for `deanonymize`).
    public struct Span: Decodable, Sendable {
        public var start: Int
        public var end: Int
        public var entityType: String
        public var score: Double?

        enum CodingKeys: String, CodingKey {
            case start, end, score
            case entityType = "entity_type"
        }
    }

    struct AnonymizeRequest: Decodable {
        var text: String?
        var anonymizers: [String: OperatorRequest]?
        var analyzerResults: [Span]?
        var deanonymizers: [String: OperatorRequest]?
        var anonymizerResults: [Span]?

        enum CodingKeys: String, CodingKey {
            case text, anonymizers, deanonymizers
            case analyzerResults = "analyzer_results"
            case anonymizerResults = "anonymizer_results"
        }
    }

    /// Presidio's `EngineResult`: the new text and what was done where (character offsets in it).
    public struct EngineResult: Encodable, Sendable, Equatable {
        public var text: String
        public var items: [Item]

        public struct Item: Encodable, Sendable, Equatable {
            public var start: Int
            public var end: Int
            public var entityType: String
            public var text: String
            public var `operator`: String

            enum CodingKeys: String, CodingKey {
                case start, end, text, `operator`
                case entityType = "entity_type"
            }
        }
    }

    /// Answers `POST /anonymize`: the request's text with its `analyzer_results` anonymized by its
    /// `anonymizers` (per entity type, `DEFAULT` for the rest, else `replace`), overlaps resolved
    /// as Presidio's engine resolves them.
    public static func anonymize(_ body: some DataProtocol) throws(BadRequest) -> EngineResult {
        let request: AnonymizeRequest = try decode(body, "the body must be {\"text\": …, \"anonymizers\": {…}, \"analyzer_results\": […]}")
        guard !isEmptyObject(body) else { throw BadRequest("Invalid request json") }
        var operators: [String: Step] = [:]
        for (entity, written) in request.anonymizers ?? [:] { operators[entity] = try Step(written, decrypting: false) }
        return try apply(text: request.text ?? "", spans: request.analyzerResults ?? [], operators: operators, fallback: .replace(nil), scored: true)
    }

    /// Answers `POST /deanonymize`: values made by `encrypt` decrypted in place (`decrypt` with the
    /// request's key).
    public static func deanonymize(_ body: some DataProtocol) throws(BadRequest) -> EngineResult {
        let request: AnonymizeRequest = try decode(body, "the body must be {\"text\": …, \"deanonymizers\": {…}, \"anonymizer_results\": […]}")
        guard !isEmptyObject(body) else { throw BadRequest("Invalid request json") }
        var operators: [String: Step] = [:]
        for (entity, written) in request.deanonymizers ?? [:] { operators[entity] = try Step(written, decrypting: true) }
        return try apply(text: request.text ?? "", spans: request.anonymizerResults ?? [], operators: operators, fallback: nil, scored: false)
    }

    /// An operator of a request, ready to apply.
    enum Step {
        case replace(String?)
        case redact
        case keep
        case mask(Character, Int, Bool)
        case hash(Operator.HashKind, salt: [UInt8]?)
        case encrypt(SymmetricKey)
        case decrypt(SymmetricKey)

        init(_ written: OperatorRequest, decrypting: Bool) throws(BadRequest) {
            func key() throws(BadRequest) -> SymmetricKey {
                guard let key = written.key, [16, 24, 32].contains(key.utf8.count) else {
                    throw BadRequest("Invalid input, key must be of length 128, 192 or 256 bits", status: 422)
                }
                return SymmetricKey(data: Array(key.utf8))
            }
            // Parameters are checked whatever the type (Presidio checks those of its type only; a
            // negative count or a short salt is a mistake however it is used).
            if let count = written.charsToMask, count < 0 { throw BadRequest("Invalid input, chars_to_mask must be a positive integer", status: 422) }
            if let characters = written.maskingChar, characters.count != 1 { throw BadRequest("Invalid input, masking_char must be a character", status: 422) }
            // Counted as Presidio (Python's len) and JSON Schema's minLength count: in characters.
            if let salt = written.salt, salt.unicodeScalars.count < 16 {
                throw BadRequest("Salt must be at least 16 bytes (128 bits). Provided salt is \(salt.unicodeScalars.count) bytes.", status: 422)
            }
            switch (written.type, decrypting) {
            case ("decrypt", true): self = .decrypt(try key())
            case (_, true): throw BadRequest("Invalid deanonymizer class '\(written.type.prefix(40))': only decrypt")
            case ("replace", _): self = .replace(written.newValue)
            case ("redact", _): self = .redact
            case ("keep", _): self = .keep
            case ("mask", _):
                guard let characters = written.maskingChar, characters.count == 1, let character = characters.first else {
                    throw BadRequest("Invalid input, masking_char must be a character", status: 422)
                }
                guard let count = written.charsToMask, count >= 0 else { throw BadRequest("Invalid input, chars_to_mask must be a positive integer", status: 422) }
                self = .mask(character, count, written.fromEnd ?? false)
            case ("hash", _):
                guard let kind = Operator.HashKind(rawValue: written.hashType ?? "sha256") else {
                    throw BadRequest("Parameter hash_type value \(written.hashType?.prefix(20) ?? "") is not in range of values ['sha256', 'sha512']", status: 422)
                }
                self = .hash(kind, salt: written.salt.map { Array($0.utf8) })
            case ("encrypt", _): self = .encrypt(try key())
            case ("custom", _): throw BadRequest("Custom type anonymizer is not supported")
            default: throw BadRequest("Invalid anonymizer class '\(written.type.prefix(40))'")
            }
        }

        var name: String {
            switch self {
            case .replace: "replace"
            case .redact: "redact"
            case .keep: "keep"
            case .mask: "mask"
            case .hash: "hash"
            case .encrypt: "encrypt"
            case .decrypt: "decrypt"
            }
        }

        func apply(_ original: String, entity: String) throws(BadRequest) -> String {
            switch self {
            case .replace(let value): return value ?? "<\(entity)>"
            case .redact: return ""
            case .keep: return original
            case .mask(let character, let count, let fromEnd):
                var output: [UInt8] = []
                Array(original.utf8).withUnsafeBufferPointer { Operator.mask(character: character, count: count, fromEnd: fromEnd).apply($0, entity: entity, to: &output) }
                return String(decoding: output, as: UTF8.self)
            case .hash(let kind, let salt):
                // Presidio: the hash of the text's bytes followed by the salt (random per value when none is given).
                let salted = Array(original.utf8) + (salt ?? (0..<32).map { _ in UInt8.random(in: 0...255) })
                let digest: [UInt8] = kind == .sha256 ? Array(SHA256.hash(data: salted)) : Array(SHA512.hash(data: salted))
                return digest.map { String(format: "%02x", $0) }.joined()
            case .encrypt(let key):
                var output: [UInt8] = []
                Array(original.utf8).withUnsafeBufferPointer { Operator.encrypt(key).apply($0, entity: entity, to: &output) }
                return String(decoding: output, as: UTF8.self)
            case .decrypt(let key):
                do {
                    return try Operator.decrypt(original, using: key)
                } catch {
                    throw BadRequest("Invalid input, \(error.description)", status: 422)
                }
            }
        }
    }

    /// Presidio's anonymizer engine: spans of one type that overlap merge (the larger score); a
    /// span inside another (or equal to one with a score as high) is dropped; spans of one type
    /// with only whitespace between merge; spans of two types that still overlap are each
    /// replaced whole. Items report where each result stands in the new text, from the end back.
    static func apply(text: String, spans written: [Span], operators: [String: Step], fallback: Step?, scored: Bool) throws(BadRequest) -> EngineResult {
        let scalars = Array(text.unicodeScalars)
        var spans = written
        for span in spans {
            guard span.start >= 0, span.end >= span.start, span.end <= scalars.count else {
                throw BadRequest("Invalid analyzer result, start: \(span.start) and end: \(span.end), while text length is only \(scalars.count).", status: 422)
            }
            if scored, let score = span.score, !(score.isFinite && (0...1).contains(score)) { throw BadRequest("score must be from 0 to 1", status: 422) }
        }
        spans.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        // Same type and overlapping: one span.
        var merged: [Span] = []
        for span in spans {
            if let index = merged.firstIndex(where: { $0.entityType == span.entityType && $0.start < span.end && span.start < $0.end }) {
                merged[index].start = min(merged[index].start, span.start)
                merged[index].end = max(merged[index].end, span.end)
                merged[index].score = max(merged[index].score ?? 0, span.score ?? 0)
            } else {
                merged.append(span)
            }
        }
        // Contained in another, or the same span with a score no higher: dropped.
        var kept: [Span] = []
        for (index, span) in merged.enumerated() {
            let conflicted = merged.enumerated().contains { other, candidate in
                guard other != index else { return false }
                if candidate.start == span.start, candidate.end == span.end {
                    // Presidio keeps the later of two equal spans with equal scores.
                    return (span.score ?? 0) < (candidate.score ?? 0) || ((span.score ?? 0) == (candidate.score ?? 0) && other > index)
                }
                return candidate.start <= span.start && span.end <= candidate.end
            }
            if !conflicted { kept.append(span) }
        }
        kept.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        // Of one type with only whitespace between: one span.
        var joined: [Span] = []
        for span in kept {
            if var last = joined.last, last.entityType == span.entityType, last.end <= span.start,
               scalars[last.end..<span.start].allSatisfy({ $0.properties.isWhitespace }) {
                last.end = span.end
                last.score = max(last.score ?? 0, span.score ?? 0)
                joined[joined.count - 1] = last
            } else {
                joined.append(span)
            }
        }
        // A partial overlap left between types: each operator gets its whole span, and the
        // results follow one another (Presidio's engine does this: "<NAME>Washington Square Park").
        var output = String.UnicodeScalarView()
        var pieces: [(start: Int, length: Int, entity: String, text: String, operator: String)] = []
        var copied = 0
        for span in joined {
            if span.start > copied { output.append(contentsOf: scalars[copied..<span.start]) }
            guard let step = operators[span.entityType] ?? operators["DEFAULT"] ?? fallback else {
                throw BadRequest("no deanonymizer for entity type \(span.entityType.prefix(64)) (and no DEFAULT)", status: 422)
            }
            let original = String(String.UnicodeScalarView(scalars[span.start..<span.end]))
            let replaced = try step.apply(original, entity: span.entityType)
            pieces.append((output.count, replaced.unicodeScalars.count, span.entityType, replaced, step.name))
            output.append(contentsOf: replaced.unicodeScalars)
            copied = max(copied, span.end)
        }
        output.append(contentsOf: scalars[copied...])
        // Presidio lists the items from the end of the text back.
        let items = pieces.reversed().map { EngineResult.Item(start: $0.start, end: $0.start + $0.length, entityType: $0.entity, text: $0.text, operator: $0.operator) }
        return EngineResult(text: String(output), items: items)
    }

    /// `{}` (Presidio answers it with "Invalid request json").
    static func isEmptyObject(_ json: some Collection<UInt8>) -> Bool {
        json.filter { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }.elementsEqual("{}".utf8)
    }

    /// Whether `json` has a comma before a closing bracket (outside strings): Foundation's
    /// decoder forgives it, JSON (and Presidio) does not.
    static func hasTrailingComma(_ json: some Collection<UInt8>) -> Bool {
        var inString = false, escaped = false, pendingComma = false
        for byte in json {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true; pendingComma = false
            case UInt8(ascii: ","): pendingComma = true
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if pendingComma { return true }
            case 0x20, 0x09, 0x0A, 0x0D: break
            default: pendingComma = false
            }
        }
        return false
    }

    private static func decode<Value: Decodable>(_ body: some DataProtocol, _ shape: String) throws(BadRequest) -> Value {
        guard body.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { throw BadRequest("Invalid request json") }
        guard !hasTrailingComma(body) else { throw BadRequest("The browser (or proxy) sent a request that this server could not understand.") }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body))
        } catch let error as AnonymizerError {
            throw BadRequest(error.description)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw BadRequest("The browser (or proxy) sent a request that this server could not understand.")
            }
            throw BadRequest("\(shape): \(AnonymizerConfiguration.describe(error))")
        } catch {
            throw BadRequest(shape)
        }
    }
}
