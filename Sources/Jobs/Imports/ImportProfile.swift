import Foundation
import Yams

/// How one broker's export is laid out: `jobs/trades.import/<name>.yml`. The README's "Import
/// profiles" section is the reference; in short:
///
/// ```yaml
/// name: Bitvavo transaction history
/// delimiter: ","                  # "," ";" "\t" "|"
/// encoding: utf-8                 # utf-8, latin-1, windows-1252
/// decimal: "."                    # the decimal separator; thousands: the grouping one
/// round_to: 8                     # round amounts to 8 decimals (default: keep up to 18 exactly)
/// date_format: "yyyy-MM-dd HH:mm:ss[.S]"   # or iso8601; see DateFormat
/// time_zone: {column: Timezone}   # an IANA name, or the column that holds one per row
/// header_row: "^Timezone,"        # a regular expression the header line matches (it may be below line 1)
/// columns:
///   symbol: Currency              # a header name
///   opened_at: [Date, Time]       # several, joined with a space
///   currency: {first_of: [Quote Currency, Currency]}   # the first one present and not empty
///   fees: {column: Fee amount, decimal: ","}           # per-column number and date formats
///   quantity: {column: Executed, pattern: '^([0-9.]+)'}  # the regex's first group (or its match)
///   fees_currency: {value: EUR}   # a constant
/// only: {Type: [buy, sell]}       # rows whose Type is none of these are skipped, not refused
/// skip: {Status: [canceled]}      # rows whose Status is one of these are skipped
/// sides: {buy: [buy, "* buy"], sell: [sell]}   # words for each side; * is any text; case ignored
/// signed_quantity: true           # a negative quantity is a sell, and `side` may be absent
/// ```
///
/// Required fields: `symbol`, `quantity`, `entry_price`, `opened_at`, and `side` unless
/// `signed_quantity`. Every key, field and option is checked when the profile is loaded; a
/// mistake names the file and the key.
struct ImportProfile: Sendable {
    var name: String
    var title: String
    var delimiter: UInt8
    var encoding: TextEncoding
    var number: NumberFormat
    var dateFormat: DateFormat
    var timeZone: String
    /// The column holding each row's zone (IANA name), when the file has one.
    var timeZoneColumn: String?
    var headerRow: TextPattern?
    var fields: [Field: FieldSpec]
    var rules: [Rule]
    var buyWords: [WordPattern]
    var sellWords: [WordPattern]
    var signedQuantity: Bool

    enum Field: String, CaseIterable, Sendable {
        case tradeID = "trade_id", symbol, side, quantity, entryPrice = "entry_price", exitPrice = "exit_price"
        case openedAt = "opened_at", closedAt = "closed_at", pnl, fees, feesCurrency = "fees_currency", currency

        /// The field's place in ``Layout`` (a switch: a dictionary lookup per field and row showed
        /// in the import's profile).
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
            case .feesCurrency: 10
            case .currency: 11
            }
        }
    }

    /// Where a field's value comes from, and how it is read there.
    struct FieldSpec: Sendable {
        enum Source: Sendable, Equatable {
            /// One column.
            case column(String)
            /// Several columns joined with a space (a date and a time).
            case joined([String])
            /// The first of these columns that the file has and that is not empty in the row.
            case firstOf([String])
            /// The column right after this one (unnamed currency columns).
            case after(String)
            /// The same text in every row.
            case value(String)
        }

        var source: Source
        /// The first capture group of this expression (or its whole match) is the value.
        var pattern: TextPattern?
        var number: NumberFormat?
        var dateFormat: DateFormat?

        /// How errors name the field's column.
        var columnName: String {
            switch source {
            case .column(let name), .after(let name): name
            case .joined(let names), .firstOf(let names): names.joined(separator: "+")
            case .value: "(constant)"
            }
        }
    }

    /// `only` (keep rows whose column holds one of the words) or `skip` (drop those that do).
    struct Rule: Sendable {
        var column: String
        var words: [WordPattern]
        var keep: Bool
    }

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    var required: [Field] { [.symbol, .quantity, .entryPrice, .openedAt] + (signedQuantity ? [] : [.side]) }

    /// The profiles of `directory`, sorted by name, and why the others were refused: one broken
    /// file does not stop the imports that use the rest.
    static func load(directory: String) -> (profiles: [ImportProfile], refused: [String: Invalid]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var profiles: [ImportProfile] = []
        var refused: [String: Invalid] = [:]
        for file in names.filter({ $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }).sorted() {
            let path = "\(directory)/\(file)"
            let name = String(file.prefix(upTo: file.lastIndex(of: ".")!))
            do {
                profiles.append(try parse(yaml: try String(contentsOfFile: path, encoding: .utf8), name: name))
            } catch let error as Invalid {
                refused[name] = Invalid(description: "\(path): \(error.description)")
            } catch {
                refused[name] = Invalid(description: "\(path): cannot be read: \(error.localizedDescription)")
            }
        }
        return (profiles, refused)
    }

    static let keys = [
        "name", "delimiter", "encoding", "decimal", "thousands", "round_to", "date_format", "time_zone", "header_row", "columns", "sides",
        "signed_quantity", "only", "skip",
    ]

    static func parse(yaml: String, name: String) throws(Invalid) -> ImportProfile {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: yaml) } catch { throw Invalid(description: "is not valid YAML: \(error)") }
        guard let map = loaded as? [String: Any] else { throw Invalid(description: "must be a map of settings") }
        if let unknown = map.keys.sorted().first(where: { !keys.contains($0) }) {
            throw Invalid(description: "unknown setting '\(unknown)' (\(keys.joined(separator: ", ")))")
        }
        func text(_ key: String, _ value: Any?) throws(Invalid) -> String? {
            guard let value else { return nil }
            if let string = value as? String { return string }
            if value is Int || value is Double || value is Bool { return "\(value)" }
            throw Invalid(description: "\(key) must be text")
        }
        func byte(_ key: String, _ value: Any?) throws(Invalid) -> UInt8? {
            guard let written = try text(key, value) else { return nil }
            if written.lowercased() == "none" || written.isEmpty { return nil }
            let unescaped = written == "\\t" ? "\t" : written
            guard unescaped.utf8.count == 1, let value = unescaped.utf8.first else { throw Invalid(description: "\(key) must be one character, got '\(written)'") }
            return value
        }
        func numberFormat(_ options: [String: Any], base: NumberFormat, prefix: String) throws(Invalid) -> NumberFormat {
            var format = base
            if options.keys.contains("decimal") {
                // One character, or two when the column writes both (".,").
                let written = try text("\(prefix)decimal", options["decimal"]) ?? ""
                guard (1...2).contains(written.utf8.count), written.utf8.allSatisfy({ $0 < 0x80 && !($0 >= 0x30 && $0 <= 0x39) }) else {
                    throw Invalid(description: "\(prefix)decimal must be one character (or two, like \".,\", when both are used), got '\(written)'")
                }
                format.decimal = written.utf8.first!
                format.otherDecimal = written.utf8.count == 2 ? Array(written.utf8)[1] : nil
            }
            if options.keys.contains("thousands") { format.thousands = try byte("\(prefix)thousands", options["thousands"]) }
            if let round = options["round_to"] {
                guard let places = round as? Int, (0...NumberFormat.maximumFractionDigits).contains(places) else {
                    throw Invalid(description: "\(prefix)round_to must be a whole number of decimals from 0 to \(NumberFormat.maximumFractionDigits)")
                }
                format.roundTo = places
            }
            if let thousands = format.thousands, thousands == format.decimal || thousands == format.otherDecimal {
                throw Invalid(description: "\(prefix)decimal and \(prefix)thousands are both '\(UnicodeScalar(thousands))'")
            }
            return format
        }
        func dateFormat(_ key: String, _ value: Any?) throws(Invalid) -> DateFormat? {
            guard let written = try text(key, value) else { return nil }
            do { return try DateFormat(written) } catch { throw Invalid(description: "\(key): \(error.description)") }
        }
        func pattern(_ key: String, _ value: Any?) throws(Invalid) -> TextPattern? {
            guard let written = try text(key, value) else { return nil }
            do { return try TextPattern(written) } catch { throw Invalid(description: "\(key) is not a regular expression: \(error)") }
        }
        func names(_ key: String, _ value: Any?) throws(Invalid) -> [String] {
            guard let list = value as? [Any], !list.isEmpty else { throw Invalid(description: "\(key) must be a list of header names") }
            return try list.map { item throws(Invalid) in
                guard let name = try text(key, item), !name.isEmpty else { throw Invalid(description: "\(key) must be a list of header names") }
                return name
            }
        }
        func words(_ key: String, _ value: Any?) throws(Invalid) -> [WordPattern] {
            if let list = value as? [Any] {
                return try list.map { item throws(Invalid) in WordPattern(try text(key, item) ?? "") }
            }
            guard let single = try text(key, value) else { throw Invalid(description: "\(key) must be a word or a list of words") }
            return [WordPattern(single)]
        }

        let number = try numberFormat(map, base: NumberFormat(), prefix: "")
        guard let format = try dateFormat("date_format", map["date_format"] ?? "yyyy-MM-dd HH:mm:ss") else { throw Invalid(description: "date_format is empty") }
        var zone = "UTC"
        var zoneColumn: String?
        switch map["time_zone"] {
        case nil: break
        case let written as String: zone = written
        case let options as [String: Any]:
            guard let column = options["column"] as? String, !column.isEmpty, options.keys.allSatisfy({ ["column", "default"].contains($0) }) else {
                throw Invalid(description: "time_zone must be a zone name or {column: <header>, default: <zone name>}")
            }
            zoneColumn = column
            if let fallback = options["default"] { zone = try text("time_zone.default", fallback) ?? zone }
        default: throw Invalid(description: "time_zone must be a zone name or {column: <header>}")
        }
        guard ZoneNames.isKnown(zone) else { throw Invalid(description: "time_zone '\(zone)' is not an IANA time zone name (like Europe/Berlin or UTC)") }

        guard let columnMap = map["columns"] as? [String: Any] else { throw Invalid(description: "columns must map fields to header names") }
        var fields: [Field: FieldSpec] = [:]
        for (key, value) in columnMap {
            guard let field = Field(rawValue: key) else {
                throw Invalid(description: "unknown field '\(key)' in columns (\(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let path = "columns.\(key)"
            switch value {
            case let header as String:
                guard !header.isEmpty else { throw Invalid(description: "\(path) must be a header name") }
                fields[field] = FieldSpec(source: .column(header))
            case let list as [Any]:
                fields[field] = FieldSpec(source: .joined(try names(path, list)))
            case let options as [String: Any]:
                let optionKeys = ["column", "columns", "first_of", "after", "value", "pattern", "decimal", "thousands", "round_to", "date_format"]
                if let unknown = options.keys.sorted().first(where: { !optionKeys.contains($0) }) {
                    throw Invalid(description: "unknown option '\(unknown)' in \(path) (\(optionKeys.joined(separator: ", ")))")
                }
                let sources = ["column", "columns", "first_of", "after", "value"].filter { options.keys.contains($0) }
                guard sources.count == 1 else { throw Invalid(description: "\(path) must name exactly one of column, columns, first_of, after, value") }
                let source: FieldSpec.Source
                switch sources[0] {
                case "column":
                    guard let header = try text("\(path).column", options["column"]), !header.isEmpty else { throw Invalid(description: "\(path).column must be a header name") }
                    source = .column(header)
                case "columns": source = .joined(try names("\(path).columns", options["columns"]))
                case "first_of": source = .firstOf(try names("\(path).first_of", options["first_of"]))
                case "after":
                    guard let header = try text("\(path).after", options["after"]), !header.isEmpty else { throw Invalid(description: "\(path).after must be a header name") }
                    source = .after(header)
                default: source = .value(try text("\(path).value", options["value"]) ?? "")
                }
                var spec = FieldSpec(source: source, pattern: try pattern("\(path).pattern", options["pattern"]))
                let numeric: Set<Field> = [.quantity, .entryPrice, .exitPrice, .pnl, .fees]
                if ["decimal", "thousands", "round_to"].contains(where: options.keys.contains) {
                    guard numeric.contains(field) else { throw Invalid(description: "\(path): decimal, thousands and round_to apply to amounts only") }
                    spec.number = try numberFormat(options, base: number, prefix: "\(path).")
                }
                if options.keys.contains("date_format") {
                    guard field == .openedAt || field == .closedAt else { throw Invalid(description: "\(path): date_format applies to opened_at and closed_at only") }
                    spec.dateFormat = try dateFormat("\(path).date_format", options["date_format"])
                }
                fields[field] = spec
            default:
                throw Invalid(description: "\(path) must be a header name, a list of them, or a map like {column: Price, decimal: \",\"}")
            }
        }

        var rules: [Rule] = []
        for (key, keep) in [("only", true), ("skip", false)] {
            guard let value = map[key] else { continue }
            guard let rulesMap = value as? [String: Any], !rulesMap.isEmpty else { throw Invalid(description: "\(key) must map header names to words, like {Type: [buy, sell]}") }
            for (column, list) in rulesMap.sorted(by: { $0.key < $1.key }) {
                rules.append(Rule(column: column, words: try words("\(key).\(column)", list), keep: keep))
            }
        }
        let sides = map["sides"] as? [String: Any] ?? [:]
        if let unknown = sides.keys.first(where: { $0 != "buy" && $0 != "sell" }) { throw Invalid(description: "unknown side '\(unknown)' in sides (buy, sell)") }
        let signed: Bool
        switch map["signed_quantity"] {
        case nil: signed = false
        case let flag as Bool: signed = flag
        default: throw Invalid(description: "signed_quantity must be true or false")
        }
        var encoding = TextEncoding.utf8
        if let written = try text("encoding", map["encoding"]) {
            guard let named = TextEncoding(name: written) else {
                throw Invalid(description: "encoding '\(written)' is not one of \(TextEncoding.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            encoding = named
        }
        let profile = ImportProfile(
            name: name, title: try text("name", map["name"]) ?? name, delimiter: try byte("delimiter", map["delimiter"]) ?? UInt8(ascii: ","),
            encoding: encoding,
            number: number, dateFormat: format, timeZone: zone, timeZoneColumn: zoneColumn,
            headerRow: try pattern("header_row", map["header_row"]), fields: fields, rules: rules,
            buyWords: sides["buy"] == nil ? [WordPattern("buy")] : try words("sides.buy", sides["buy"]),
            sellWords: sides["sell"] == nil ? [WordPattern("sell")] : try words("sides.sell", sides["sell"]),
            signedQuantity: signed
        )
        let missing = profile.required.filter { fields[$0] == nil }
        guard missing.isEmpty else { throw Invalid(description: "columns must name \(missing.map(\.rawValue).joined(separator: ", "))") }
        return profile
    }

    // MARK: Reading a header

    /// Where each field, rule and the zone are in a file whose header this profile reads.
    struct Layout: Sendable {
        enum Place: Sendable {
            case column(Int)
            case joined([Int])
            case firstOf([Int])
            case value(String)
        }

        struct Bound: Sendable {
            var place: Place
            var spec: FieldSpec
        }

        /// By ``Field/ordinal``.
        fileprivate(set) var fields: [Bound?]
        fileprivate(set) var rules: [(column: Int, words: [WordPattern], keep: Bool)] = []
        fileprivate(set) var zoneColumn: Int?
        /// The header's column count.
        let width: Int

        subscript(field: Field) -> Bound? { fields[field.ordinal] }

        /// How many columns the profile found: a more specific profile wins a tie.
        var boundCount: Int { fields.compactMap { $0 }.count + rules.count + (zoneColumn == nil ? 0 : 1) }
    }

    /// The header's field names as text in the profile's encoding, trimmed.
    func headerNames(_ record: CSVRecord) -> [String] {
        record.fields.map { (encoding.decode($0) ?? String(decoding: $0, as: UTF8.self)).trimmingCharacters(in: .whitespaces) }
    }

    /// The layout this profile reads in `header`, or nil when a required column is missing (or
    /// the header line does not match `header_row`).
    func match(header: [String]) -> Layout? {
        if let headerRow, !headerRow.matches(header.joined(separator: String(UnicodeScalar(delimiter)))) { return nil }
        var positions: [String: Int] = [:]
        for (index, name) in header.enumerated() where positions[name.lowercased()] == nil { positions[name.lowercased()] = index }
        func index(_ name: String) -> Int? { positions[name.lowercased()] }
        var layout = Layout(fields: Array(repeating: nil, count: Field.allCases.count), width: header.count)
        for (field, spec) in fields {
            let place: Layout.Place?
            switch spec.source {
            case .column(let name): place = index(name).map { .column($0) }
            case .joined(let names):
                let found = names.compactMap(index)
                place = found.count == names.count ? .joined(found) : nil
            case .firstOf(let names):
                let found = names.compactMap(index)
                place = found.isEmpty ? nil : .firstOf(found)
            case .after(let name): place = index(name).flatMap { $0 + 1 < header.count ? .column($0 + 1) : nil }
            case .value(let text): place = .value(text)
            }
            if let place { layout.fields[field.ordinal] = Layout.Bound(place: place, spec: spec) } else if required.contains(field) { return nil }
        }
        if let timeZoneColumn {
            guard let column = index(timeZoneColumn) else { return nil }
            layout.zoneColumn = column
        }
        // A rule on a column the file does not have does not apply (Flex queries choose their columns).
        layout.rules = rules.compactMap { rule in index(rule.column).map { ($0, rule.words, rule.keep) } }
        return layout
    }
}

/// A regular expression from a profile, compiled once and shared read-only by the parsing thread.
struct TextPattern: @unchecked Sendable, CustomStringConvertible {
    // @unchecked Sendable: a compiled Regex is an immutable value; matching does not change it.
    private let regex: Regex<AnyRegexOutput>
    let description: String

    init(_ pattern: String) throws {
        regex = try Regex(pattern)
        description = pattern
    }

    func matches(_ text: String) -> Bool { (try? regex.firstMatch(in: text)) != nil }

    /// The first capture group that took part in the first match (or the whole match); nil when
    /// nothing matches.
    func extract(_ text: String) -> Substring? {
        guard let found = try? regex.firstMatch(in: text) else { return nil }
        let output = found.output
        for index in 1..<max(1, output.count) {
            if let captured = output[index].substring { return captured }
        }
        return output[0].substring
    }
}
