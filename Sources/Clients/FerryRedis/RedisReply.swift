/// A reply from Redis, mirroring the RESP2 types.
public enum RedisReply: Sendable, Equatable, CustomStringConvertible {
    case status(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case array([RedisReply])
    case null

    /// The text of a bulk or status reply, decoded as UTF-8; `nil` otherwise.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The bytes of a bulk reply.
    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    /// An integer reply, or a bulk/status reply that spells an integer.
    public var int: Int? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Throws ``RedisError/server(_:)`` for an error reply, returns `self` otherwise.
    @discardableResult
    public func check() throws(RedisError) -> RedisReply {
        if case .error(let message) = self { throw .server(message) }
        return self
    }

    public var description: String {
        switch self {
        case .status(let text): return "status(\(text))"
        case .error(let text): return "error(\(text))"
        case .integer(let value): return "integer(\(value))"
        case .bulk(let bytes):
            let text = String(decoding: bytes.prefix(64), as: UTF8.self)
            return bytes.count > 64 ? "bulk(\(text)… \(bytes.count) bytes)" : "bulk(\(text))"
        case .array(let elements): return "array(\(elements.count) elements)"
        case .null: return "null"
        }
    }
}

/// One argument of a Redis command. Binary-safe: bytes are sent as they are.
public enum RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case bytes([UInt8])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .string(String(value)) }
    public init(_ value: String) { self = .string(value) }
    public init(_ value: Int) { self = .string(String(value)) }
    public init(_ value: [UInt8]) { self = .bytes(value) }

    var byteCount: Int {
        switch self {
        case .string(let text): return text.utf8.count
        case .bytes(let bytes): return bytes.count
        }
    }

    /// Appends the argument as a RESP bulk string (`$<length>\r\n<bytes>\r\n`).
    func appendBulk(to buffer: inout [UInt8]) {
        buffer.appendRESPHeader(UInt8(ascii: "$"), byteCount)
        switch self {
        case .string(let text): buffer.append(contentsOf: text.utf8)
        case .bytes(let bytes): buffer.append(contentsOf: bytes)
        }
        buffer.append(13)
        buffer.append(10)
    }

    /// The argument's length and first byte with bit 5 cleared (a letter's capital), or nil
    /// when it is empty.
    var lengthAndInitial: (length: Int, initial: UInt8)? {
        switch self {
        case .string(let text): return text.utf8.first.map { (text.utf8.count, $0 & 0xDF) }
        case .bytes(let bytes): return bytes.first.map { (bytes.count, $0 & 0xDF) }
        }
    }

    /// Whether the argument is `word` (given in capital ASCII letters) in any letter case.
    /// Allocates nothing: it runs for every command the shared connection sends.
    func isWord(_ word: StaticString) -> Bool {
        switch self {
        case .string(let text): return Self.matches(text.utf8, word)
        case .bytes(let bytes): return Self.matches(bytes, word)
        }
    }

    private static func matches(_ bytes: some Collection<UInt8>, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            // Clearing bit 5 turns a lowercase ASCII letter into its capital and leaves capitals as they are.
            zip(bytes, expected).allSatisfy { $0 & 0xDF == $1 }
        }
    }

    /// Copies the argument's bytes to `destination`, which has room for ``byteCount`` bytes.
    func copyBytes(to destination: UnsafeMutableRawPointer) {
        switch self {
        case .string(var text):
            text.withUTF8 { utf8 in
                if let base = utf8.baseAddress { destination.copyMemory(from: base, byteCount: utf8.count) }
            }
        case .bytes(let bytes):
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress { destination.copyMemory(from: base, byteCount: raw.count) }
            }
        }
    }
}

extension [UInt8] {
    /// Appends a RESP header: `marker`, `count` in decimal, CRLF (`*3\r\n`, `$5\r\n`).
    mutating func appendRESPHeader(_ marker: UInt8, _ count: Int) {
        append(marker)
        if (0..<10).contains(count) {
            append(UInt8(ascii: "0") + UInt8(count))
        } else {
            append(contentsOf: String(count).utf8)
        }
        append(13)
        append(10)
    }
}
