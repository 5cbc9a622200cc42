public import Foundation

/// What went wrong, said so that a person can fix it.
public enum AnonymizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration cannot be used: the reason names the field.
    case invalidConfiguration(String)
    /// A value could not be decrypted (wrong key, not produced by `encrypt`, damaged).
    case decryptionFailed(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): "invalid anonymizer configuration: \(reason)"
        case .decryptionFailed(let reason): "cannot decrypt: \(reason)"
        }
    }
}

/// How to find and what to do with personal data, in Presidio's vocabulary: the analyzer's
/// `entities`, `score_threshold`, `allow_list` and ad-hoc `recognizers`, and the anonymizer's
/// `operators` keyed by entity name or `DEFAULT`. JSON or YAML of the same shape.
public struct AnonymizerConfiguration: Sendable, Decodable, Equatable {
    /// The entities to look for; nil for every built-in and custom one.
    public var entities: [String]?
    /// Findings scored below this are ignored (Presidio's default: 0).
    public var scoreThreshold: Double
    /// Texts never reported, compared exactly (Presidio's `allow_list`).
    public var allowList: [String]
    /// Words before (and after) a finding searched for its recognizer's context words.
    public var contextPrefixCount: Int
    public var contextSuffixCount: Int
    /// Operator per entity name; `DEFAULT` for the rest (else `replace` with `<ENTITY>`).
    public var operators: [String: OperatorConfiguration]
    /// Custom recognizers: patterns with context words, or deny lists.
    public var recognizers: [CustomRecognizerConfiguration]

    public init(
        entities: [String]? = nil, scoreThreshold: Double = 0, allowList: [String] = [], contextPrefixCount: Int = 5, contextSuffixCount: Int = 0,
        operators: [String: OperatorConfiguration] = [:], recognizers: [CustomRecognizerConfiguration] = []
    ) {
        self.entities = entities
        self.scoreThreshold = scoreThreshold
        self.allowList = allowList
        self.contextPrefixCount = contextPrefixCount
        self.contextSuffixCount = contextSuffixCount
        self.operators = operators
        self.recognizers = recognizers
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case entities, operators, recognizers, language
        case scoreThreshold = "score_threshold"
        case allowList = "allow_list"
        case contextPrefixCount = "context_prefix_count"
        case contextSuffixCount = "context_suffix_count"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), in: "the configuration")
        entities = try container.decodeIfPresent([String].self, forKey: .entities)
        scoreThreshold = try container.decodeIfPresent(Double.self, forKey: .scoreThreshold) ?? 0
        allowList = try container.decodeIfPresent([String].self, forKey: .allowList) ?? []
        contextPrefixCount = try container.decodeIfPresent(Int.self, forKey: .contextPrefixCount) ?? 5
        contextSuffixCount = try container.decodeIfPresent(Int.self, forKey: .contextSuffixCount) ?? 0
        operators = try container.decodeIfPresent([String: OperatorConfiguration].self, forKey: .operators) ?? [:]
        recognizers = try container.decodeIfPresent([CustomRecognizerConfiguration].self, forKey: .recognizers) ?? []
        // `language` is accepted for Presidio configurations: every recognizer here reads German and English.
        _ = try container.decodeIfPresent(String.self, forKey: .language)
    }

    /// Reads a configuration from JSON, with the reason and the field's path when it is wrong.
    public static func decode(json: some DataProtocol) throws(AnonymizerError) -> AnonymizerConfiguration {
        do {
            return try JSONDecoder().decode(AnonymizerConfiguration.self, from: Data(json))
        } catch let error as AnonymizerError {
            throw error
        } catch let error as DecodingError {
            throw .invalidConfiguration(Self.describe(error))
        } catch {
            throw .invalidConfiguration("\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "the configuration" : String(path.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(Self.name(of: type))"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(Self.name(of: type)), found null"
        case .keyNotFound(let key, let context): return "\(path(context)): '\(key.stringValue)' is required"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? AnonymizerError, case .invalidConfiguration(let reason) = underlying { return reason }
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Double.Type, is Int.Type: "a number"
        case is Bool.Type: "true or false"
        case is [String].Type: "a list of strings"
        default: "\(type)".hasPrefix("Array") ? "a list" : "\(type)".hasPrefix("Dictionary") ? "an object" : "\(type)"
        }
    }
}

/// One operator in Presidio's JSON shape: `{"type": "mask", "masking_char": "*", "chars_to_mask": 4, "from_end": true}`.
public struct OperatorConfiguration: Sendable, Decodable, Equatable {
    public var type: String
    public var newValue: String?
    public var maskingChar: String?
    public var charsToMask: Int?
    public var fromEnd: Bool?
    public var hashType: String?
    /// The environment variable holding the key of `hash` and `encrypt`/`decrypt`.
    public var keyEnv: String?

    public init(type: String, newValue: String? = nil, maskingChar: String? = nil, charsToMask: Int? = nil, fromEnd: Bool? = nil, hashType: String? = nil, keyEnv: String? = nil) {
        self.type = type
        self.newValue = newValue
        self.maskingChar = maskingChar
        self.charsToMask = charsToMask
        self.fromEnd = fromEnd
        self.hashType = hashType
        self.keyEnv = keyEnv
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, key, salt
        case newValue = "new_value"
        case maskingChar = "masking_char"
        case charsToMask = "chars_to_mask"
        case fromEnd = "from_end"
        case hashType = "hash_type"
        case keyEnv = "key_env"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        let allowed: [String: [CodingKeys]] = [
            "replace": [.newValue], "redact": [], "keep": [], "mask": [.maskingChar, .charsToMask, .fromEnd],
            "hash": [.hashType, .keyEnv, .salt], "encrypt": [.keyEnv, .key], "decrypt": [.keyEnv, .key],
        ]
        guard let parameters = allowed[type] else {
            throw AnonymizerError.invalidConfiguration("operator type '\(type.prefix(40))' is unknown; use one of \(allowed.keys.sorted().joined(separator: ", "))")
        }
        try rejectUnknownKeys(decoder, known: ["type"] + parameters.map(\.rawValue), in: "operator '\(type)'")
        if container.contains(.key) {
            throw AnonymizerError.invalidConfiguration("operator '\(type)': a key is not written into configuration; put it in an environment variable and name it with key_env")
        }
        if container.contains(.salt) {
            throw AnonymizerError.invalidConfiguration("operator 'hash': salt is replaced by a secret key (HMAC); name its environment variable with key_env")
        }
        newValue = try container.decodeIfPresent(String.self, forKey: .newValue)
        maskingChar = try container.decodeIfPresent(String.self, forKey: .maskingChar)
        charsToMask = try container.decodeIfPresent(Int.self, forKey: .charsToMask)
        fromEnd = try container.decodeIfPresent(Bool.self, forKey: .fromEnd)
        hashType = try container.decodeIfPresent(String.self, forKey: .hashType)
        keyEnv = try container.decodeIfPresent(String.self, forKey: .keyEnv)
    }
}

/// A custom recognizer in Presidio's ad-hoc recognizer shape.
public struct CustomRecognizerConfiguration: Sendable, Decodable, Equatable {
    public struct Pattern: Sendable, Decodable, Equatable {
        public var name: String
        public var regex: String
        public var score: Double
    }

    public var name: String
    public var supportedEntity: String
    public var patterns: [Pattern]
    public var context: [String]
    public var denyList: [String]
    public var denyListScore: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, patterns, context
        case supportedEntity = "supported_entity"
        case supportedLanguage = "supported_language"
        case denyList = "deny_list"
        case denyListScore = "deny_list_score"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? "custom"
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), in: "recognizer '\(name)'")
        supportedEntity = try container.decode(String.self, forKey: .supportedEntity)
        patterns = try container.decodeIfPresent([Pattern].self, forKey: .patterns) ?? []
        context = try container.decodeIfPresent([String].self, forKey: .context) ?? []
        denyList = try container.decodeIfPresent([String].self, forKey: .denyList) ?? []
        denyListScore = try container.decodeIfPresent(Double.self, forKey: .denyListScore) ?? 1
        _ = try container.decodeIfPresent(String.self, forKey: .supportedLanguage)
        guard !patterns.isEmpty || !denyList.isEmpty else {
            throw AnonymizerError.invalidConfiguration("recognizer '\(name)' has neither patterns nor a deny_list")
        }
        guard supportedEntity.range(of: "^[A-Z][A-Z0-9_]{0,63}$", options: .regularExpression) != nil else {
            throw AnonymizerError.invalidConfiguration("recognizer '\(name)': supported_entity '\(supportedEntity.prefix(64))' must be capital letters, digits and '_' (like PHONE_NUMBER)")
        }
        for pattern in patterns where !(0...1).contains(pattern.score) {
            throw AnonymizerError.invalidConfiguration("recognizer '\(name)', pattern '\(pattern.name)': score \(pattern.score) is not from 0 to 1")
        }
        guard (0...1).contains(denyListScore) else {
            throw AnonymizerError.invalidConfiguration("recognizer '\(name)': deny_list_score \(denyListScore) is not from 0 to 1")
        }
    }
}

/// Refuses keys the type does not know — a misspelt `chars_to_msk` should not pass silently.
private func rejectUnknownKeys(_ decoder: any Decoder, known: [String], in place: String) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = container.allKeys.map(\.stringValue).first(where: { !known.contains($0) }) {
        throw AnonymizerError.invalidConfiguration("\(place): unknown field '\(unknown.prefix(64))'; known: \(known.sorted().joined(separator: ", "))")
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
