import FerrySupport

/// Any JSON value, kept exactly: integers stay integers (to 64 bits), objects keep their keys.
///
/// Job arguments travel as `JSONValue` so the queue never needs to know a job's argument type.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The members of an object.
    public var object: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements of an array.
    public var elements: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// An integer, or a double with no fractional part.
    public var int: Int? {
        switch self {
        case .int(let value): return Int(exactly: value)
        case .double(let value): return Int(exactly: value)
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    public subscript(key: String) -> JSONValue? { object?[key] }

    /// Converts what a YAML or `JSONSerialization` parser returns (dictionaries, arrays, strings,
    /// numbers, booleans); anything else becomes `null`.
    public init(parsed value: Any) {
        switch value {
        case let bool as Bool: self = .bool(bool)
        case let int as Int: self = .int(Int64(int))
        case let double as Double: self = .double(double)
        case let string as String: self = .string(string)
        case let array as [Any]: self = .array(array.map(JSONValue.init(parsed:)))
        case let map as [String: Any]: self = .object(map.mapValues(JSONValue.init(parsed:)))
        default: self = .null
        }
    }
}

/// Literals, so arguments read as JSON: `["user_id": 42, "tags": ["a", "b"], "draft": false]`.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements, uniquingKeysWith: { first, _ in first })) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// This value fit for an admin's screen: members named like secrets (`password`, `token`,
    /// `api_key`, …) become `"***"`, and URLs lose their passwords and signatures
    /// (``URLRedaction``), at any depth.
    public func redactingSecrets() -> JSONValue {
        switch self {
        case .string(let text) where text.contains("://"): return .string(URLRedaction.redact(text))
        case .array(let items): return .array(items.map { $0.redactingSecrets() })
        case .object(let members):
            return .object(members.reduce(into: [:]) { result, member in
                result[member.key] = URLRedaction.isSecretName(member.key) ? .string("***") : member.value.redactingSecrets()
            })
        default: return self
        }
    }
}

extension JSONValue {
    /// Reads a JSON document as `JSONDecoder` would, with the job envelope's own reader (several
    /// times faster): for Ferry's modules that read foreign messages on a hot path.
    package init(parsing bytes: [UInt8]) throws(QueueError) {
        do {
            self = try JobReader.value(bytes)
        } catch {
            throw .malformedJob(reason: error.reason)
        }
    }
}
