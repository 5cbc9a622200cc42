public import Foundation
import FerrySupport

/// A PostgreSQL type OID.
public typealias PostgresTypeOID = UInt32

/// Type OIDs that Ferry decodes (see `pg_type`).
public enum PostgresType {
    public static let bool: PostgresTypeOID = 16
    public static let int8: PostgresTypeOID = 20
    public static let int2: PostgresTypeOID = 21
    public static let int4: PostgresTypeOID = 23
    public static let text: PostgresTypeOID = 25
    public static let oid: PostgresTypeOID = 26
    public static let json: PostgresTypeOID = 114
    public static let float4: PostgresTypeOID = 700
    public static let float8: PostgresTypeOID = 701
    public static let bpchar: PostgresTypeOID = 1042
    public static let varchar: PostgresTypeOID = 1043
    public static let date: PostgresTypeOID = 1082
    public static let timestamp: PostgresTypeOID = 1114
    public static let timestamptz: PostgresTypeOID = 1184
    public static let numeric: PostgresTypeOID = 1700
    public static let uuid: PostgresTypeOID = 2950
    public static let jsonb: PostgresTypeOID = 3802
    /// "Let the server infer the type from the statement."
    public static let unspecified: PostgresTypeOID = 0
}

// MARK: - Encoding (query parameters)

/// A Swift value that can be bound to a `$n` parameter of a query.
///
/// Values travel in PostgreSQL's text format; `nil` is SQL NULL.
public protocol PostgresEncodable: Sendable {
    /// The value in PostgreSQL's text format, or `nil` for NULL.
    var postgresText: String? { get }
    /// The parameter's type, or ``PostgresType/unspecified`` to let the server infer it.
    static var postgresType: PostgresTypeOID { get }
}

extension String: PostgresEncodable {
    public var postgresText: String? { self }
    public static var postgresType: PostgresTypeOID { PostgresType.unspecified }
}

extension Int: PostgresEncodable {
    public var postgresText: String? { String(self) }
    /// Inferred by the server, so the same value binds to `int`, `bigint` and `numeric` parameters.
    public static var postgresType: PostgresTypeOID { PostgresType.unspecified }
}

extension Int64: PostgresEncodable {
    public var postgresText: String? { String(self) }
    /// Inferred by the server, so the same value binds to `int`, `bigint` and `numeric` parameters.
    public static var postgresType: PostgresTypeOID { PostgresType.unspecified }
}

extension Int32: PostgresEncodable {
    public var postgresText: String? { String(self) }
    /// Inferred by the server, so the same value binds to `int`, `bigint` and `numeric` parameters.
    public static var postgresType: PostgresTypeOID { PostgresType.unspecified }
}

extension Double: PostgresEncodable {
    public var postgresText: String? { String(self) }
    public static var postgresType: PostgresTypeOID { PostgresType.float8 }
}

extension Bool: PostgresEncodable {
    public var postgresText: String? { self ? "t" : "f" }
    public static var postgresType: PostgresTypeOID { PostgresType.bool }
}

extension Decimal: PostgresEncodable {
    public var postgresText: String? { NSDecimalNumber(decimal: self).description(withLocale: nil) }
    public static var postgresType: PostgresTypeOID { PostgresType.numeric }
}

extension UUID: PostgresEncodable {
    public var postgresText: String? { uuidString.lowercased() }
    public static var postgresType: PostgresTypeOID { PostgresType.uuid }
}

extension Date: PostgresEncodable {
    public var postgresText: String? { PostgresTimestamp.format(self) }
    public static var postgresType: PostgresTypeOID { PostgresType.timestamptz }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? { self?.postgresText }
    public static var postgresType: PostgresTypeOID { Wrapped.postgresType }
}

/// JSON for a `json`/`jsonb` parameter or column, kept as its text.
public struct PostgresJSON: PostgresEncodable, PostgresDecodable, Equatable {
    public var text: String

    public init(text: String) { self.text = text }

    /// Encodes `value` with `JSONEncoder`.
    public init(encoding value: some Encodable) throws {
        text = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    /// Decodes the JSON into `type` with `JSONDecoder`.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    public var postgresText: String? { text }
    public static var postgresType: PostgresTypeOID { PostgresType.unspecified }

    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard type == PostgresType.json || type == PostgresType.jsonb || type == PostgresType.text else {
            throw PostgresDecodingFailure("expected json or jsonb, the column has type OID \(type)")
        }
        self.text = text
    }
}

// MARK: - Decoding (result columns)

/// Why a column value could not become the requested Swift type.
public struct PostgresDecodingFailure: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// A Swift type that can be made from a non-NULL column value in text format.
public protocol PostgresDecodable: Sendable {
    init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure)
}

extension String: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) { self = text }
}

extension Int: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard [PostgresType.int2, PostgresType.int4, PostgresType.int8, PostgresType.oid].contains(type) else {
            throw PostgresDecodingFailure("the column is not an integer (type OID \(type)); cast it in SQL")
        }
        guard let value = Int(text) else { throw PostgresDecodingFailure("'\(text)' is not an integer") }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        self = Int64(try Int(postgresText: text, type: type))
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        let value = try Int(postgresText: text, type: type)
        guard let narrowed = Int32(exactly: value) else { throw PostgresDecodingFailure("\(value) does not fit in Int32") }
        self = narrowed
    }
}

extension Double: PostgresDecodable {
    /// Only `real` and `double precision` columns decode as `Double`: a `numeric` (money, token
    /// amounts) must be read as `Decimal` or `String` so no precision is lost.
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard type == PostgresType.float8 || type == PostgresType.float4 else {
            throw PostgresDecodingFailure(type == PostgresType.numeric
                ? "numeric values are decoded as Decimal or String, never Double"
                : "the column is not a floating-point number (type OID \(type))")
        }
        guard let value = Double(text) else { throw PostgresDecodingFailure("'\(text)' is not a number") }
        self = value
    }
}

extension Decimal: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard [PostgresType.numeric, PostgresType.int2, PostgresType.int4, PostgresType.int8].contains(type) else {
            throw PostgresDecodingFailure("the column is not numeric (type OID \(type))")
        }
        guard text != "NaN", let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw PostgresDecodingFailure("'\(text)' is not a finite decimal number")
        }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        switch text {
        case "t": self = true
        case "f": self = false
        default: throw PostgresDecodingFailure("'\(text)' is not a boolean")
        }
    }
}

extension UUID: PostgresDecodable {
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard let value = UUID(uuidString: text) else { throw PostgresDecodingFailure("'\(text)' is not a UUID") }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// Decodes `timestamptz`, `timestamp` (taken as UTC) and `date` (midnight UTC).
    public init(postgresText text: String, type: PostgresTypeOID) throws(PostgresDecodingFailure) {
        guard [PostgresType.timestamptz, PostgresType.timestamp, PostgresType.date].contains(type) else {
            throw PostgresDecodingFailure("the column is not a timestamp or date (type OID \(type))")
        }
        guard let value = PostgresTimestamp.parse(text) else {
            throw PostgresDecodingFailure("'\(text)' is not an ISO timestamp")
        }
        self = value
    }
}

/// Text-format timestamps as the server writes them with `DateStyle=ISO`.
enum PostgresTimestamp {
    /// `2026-11-24T10:29:10.123456Z` — what the server reads back exactly, to the microsecond.
    static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = Int(interval.rounded(.down))
        var micros = Int(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 { seconds += 1; micros -= 1_000_000 }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let micro = String(micros)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - micro.count) + micro + "Z"
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]]` (``Timestamp``).
    static func parse(_ text: String) -> Date? { Timestamp.parse(text) }
}
