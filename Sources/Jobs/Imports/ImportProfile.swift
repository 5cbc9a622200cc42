import Foundation
import Yams

/// How one broker's export is laid out: `jobs/trades.import/<name>.yml`.
///
/// ```yaml
/// name: MetaTrader account history
/// delimiter: ","                 # "," ";" "\t" "|"
/// decimal: "."                   # the decimal separator; thousands: the grouping one (or none)
/// thousands: ","
/// date_format: "yyyy.MM.dd HH:mm:ss"   # yyyy MM dd HH mm ss SSS and literal separators
/// time_zone: UTC                 # the zone the file's times are in (an IANA name)
/// columns: {trade_id: Ticket, symbol: Item, side: Type, quantity: Size, entry_price: Price,
///           opened_at: Open Time, exit_price: Close Price, closed_at: Close Time, pnl: Profit,
///           fees: Commission, currency: Currency}
/// sides: {buy: [buy], sell: [sell]}   # words for each side (compared without case)
/// signed_quantity: false         # true: a negative quantity is a sell, and `side` may be absent
/// ```
///
/// Required columns: `symbol`, `quantity`, `entry_price`, `opened_at`, and `side` unless
/// `signed_quantity`. The others are optional.
struct ImportProfile: Sendable {
    var name: String
    var title: String
    var delimiter: UInt8
    var decimal: UInt8
    var thousands: UInt8?
    var dateFormat: DateFormat
    var timeZone: String
    /// Field → header name.
    var columns: [Field: String]
    var buyWords: Set<String>
    var sellWords: Set<String>
    var signedQuantity: Bool

    enum Field: String, CaseIterable, Sendable {
        case tradeID = "trade_id", symbol, side, quantity, entryPrice = "entry_price", exitPrice = "exit_price"
        case openedAt = "opened_at", closedAt = "closed_at", pnl, fees, currency

        /// The field's place in ``Positions``.
        var ordinal: Int {
            switch self {
            case .tradeID: 0
            case .symbol: 1
            case .side: 2
            case .quantity: 3
            case .entryPrice: 4
            case .exitPrice: 5
            case .openedAt: 6
            case .closedAt: 7
            case .pnl: 8
            case .fees: 9
            case .currency: 10
            }
        }
    }

    /// Where each field is in a row, as an array (a dictionary lookup per field and row showed in
    /// the import's profile).
    struct Positions: Sendable {
        private let columns: [Int]

        init(_ found: [Field: Int]) {
            var columns = [Int](repeating: -1, count: Field.allCases.count)
            for (field, column) in found { columns[field.ordinal] = column }
            self.columns = columns
        }

        subscript(field: Field) -> Int? {
            let column = columns[field.ordinal]
            return column >= 0 ? column : nil
        }
    }

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    var required: [Field] { [.symbol, .quantity, .entryPrice, .openedAt] + (signedQuantity ? [] : [.side]) }

    /// Loads every profile of `directory`, sorted by name.
    static func load(directory: String) throws -> [ImportProfile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return try names.filter { $0.hasSuffix(".yml") }.sorted().map { file in
            let path = "\(directory)/\(file)"
            do {
                return try parse(yaml: try String(contentsOfFile: path, encoding: .utf8), name: String(file.dropLast(4)))
            } catch let error as Invalid {
                throw Invalid(description: "\(path): \(error.description)")
            }
        }
    }

    static func parse(yaml: String, name: String) throws -> ImportProfile {
        guard let map = try Yams.load(yaml: yaml) as? [String: Any] else { throw Invalid(description: "must be a map") }
        func byte(_ key: String, default fallback: String?) throws -> UInt8? {
            guard let text = (map[key] as? String) ?? fallback else { return nil }
            let unescaped = text == "\\t" ? "\t" : text
            guard unescaped.utf8.count == 1, let value = unescaped.utf8.first else { throw Invalid(description: "\(key) must be one character") }
            return value
        }
        guard let columnMap = map["columns"] as? [String: Any] else { throw Invalid(description: "columns must map fields to header names") }
        var columns: [Field: String] = [:]
        for (key, value) in columnMap {
            guard let field = Field(rawValue: key) else {
                throw Invalid(description: "unknown field '\(key)' (\(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let header = value as? String, !header.isEmpty else { throw Invalid(description: "columns.\(key) must be a header name") }
            columns[field] = header
        }
        let sides = map["sides"] as? [String: Any] ?? [:]
        func words(_ key: String, _ fallback: [String]) -> Set<String> {
            Set(((sides[key] as? [Any])?.compactMap { "\($0)" } ?? fallback).map { $0.lowercased() })
        }
        guard let format = DateFormat(map["date_format"] as? String ?? "yyyy-MM-dd HH:mm:ss") else {
            throw Invalid(description: "date_format must be made of yyyy MM dd HH mm ss SSS and separators")
        }
        let zone = map["time_zone"] as? String ?? "UTC"
        guard TimeZone(identifier: zone) != nil else { throw Invalid(description: "time_zone '\(zone)' is not a time zone name") }
        let profile = ImportProfile(
            name: name, title: map["name"] as? String ?? name, delimiter: try byte("delimiter", default: ",")!,
            decimal: try byte("decimal", default: ".")!, thousands: try byte("thousands", default: nil), dateFormat: format,
            timeZone: zone, columns: columns, buyWords: words("buy", ["buy"]), sellWords: words("sell", ["sell"]),
            signedQuantity: map["signed_quantity"] as? Bool ?? false
        )
        let missing = profile.required.filter { columns[$0] == nil }
        guard missing.isEmpty else { throw Invalid(description: "columns must name \(missing.map(\.rawValue).joined(separator: ", "))") }
        return profile
    }

    /// Where each field is in a header row, when this profile reads it (every required column present).
    func match(header: [String]) -> [Field: Int]? {
        let positions = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces).lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        var found: [Field: Int] = [:]
        for (field, name) in columns {
            if let index = positions[name.lowercased()] { found[field] = index } else if required.contains(field) { return nil }
        }
        return found
    }
}

/// A date and time layout (`yyyy-MM-dd HH:mm:ss`, `dd.MM.yyyy`, `yyyy.MM.dd HH:mm`), parsed by
/// hand: a million rows cannot afford a DateFormatter each. Produces `YYYY-MM-DD HH:MM:SS[.fff]`
/// in the file's zone, which PostgreSQL converts (`AT TIME ZONE`), DST included.
struct DateFormat: Sendable {
    enum Part: Sendable {
        case year, month, day, hour, minute, second, millisecond
        case literal(UInt8)
    }

    let parts: [Part]

    init?(_ pattern: String) {
        var parts: [Part] = []
        var bytes = Array(pattern.utf8)[...]
        let tokens: [(String, Part)] = [("yyyy", .year), ("MM", .month), ("dd", .day), ("HH", .hour), ("mm", .minute), ("ss", .second), ("SSS", .millisecond)]
        outer: while let first = bytes.first {
            for (token, part) in tokens where bytes.starts(with: token.utf8) {
                parts.append(part)
                bytes = bytes.dropFirst(token.utf8.count)
                continue outer
            }
            if (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A) { return nil }
            parts.append(.literal(first))
            bytes = bytes.dropFirst()
        }
        guard parts.contains(where: { if case .year = $0 { true } else { false } }) else { return nil }
        self.parts = parts
    }

    /// The canonical local time, or nil when `text` does not follow the layout or is not a real
    /// date (30 February, hour 25).
    func parse(_ text: ArraySlice<UInt8>) -> String? {
        var index = text.startIndex
        var year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = -1
        func digits(_ count: Int) -> Int? {
            guard text.endIndex - index >= count else { return nil }
            var value = 0
            for _ in 0..<count {
                let byte = text[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        for part in parts {
            switch part {
            case .year: guard let value = digits(4) else { return nil }; year = value
            case .month: guard let value = digits(2) else { return nil }; month = value
            case .day: guard let value = digits(2) else { return nil }; day = value
            case .hour: guard let value = digits(2) else { return nil }; hour = value
            case .minute: guard let value = digits(2) else { return nil }; minute = value
            case .second: guard let value = digits(2) else { return nil }; second = value
            case .millisecond: guard let value = digits(3) else { return nil }; millisecond = value
            case .literal(let byte):
                guard index < text.endIndex, text[index] == byte else { return nil }
                index += 1
            }
        }
        guard index == text.endIndex, (1970...9999).contains(year), (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var result = "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second))"
        if millisecond >= 0 { result += "." + String(repeating: "0", count: millisecond < 10 ? 2 : millisecond < 100 ? 1 : 0) + "\(millisecond)" }
        return result
    }
}
