/// One CSV record turned into a trade ready for COPY, or the reason it was refused.
///
/// Amounts stay decimal text (`1234.5`), never floating point; times are local text in a zone
/// (the row's, when the text or a zone column names one, else the profile's), converted by
/// PostgreSQL.
struct TradeRow: Sendable {
    var line: Int
    var tradeID: String?
    var symbol: String
    var side: String
    var quantity: String
    var entryPrice: String
    var exitPrice: String?
    var pnl: String?
    var fees: String?
    var feesCurrency: String?
    var currency: String?
    var openedAt: String
    /// The zone of `openedAt` when it is not the profile's.
    var openedZone: String?
    var closedAt: String?
    var closedZone: String?

    /// A refused row: which column, its raw value (cut), why.
    struct Rejection: Sendable, Error {
        var line: Int
        var column: String?
        var raw: String?
        var reason: String
    }

    /// What became of a record.
    enum Outcome: Sendable {
        case trade(TradeRow)
        case rejected(Rejection)
        /// Not a trade by the profile's `only`/`skip` rules (a deposit, a dividend).
        case skipped
    }

    /// The fields that identify a trade without a broker id, for its key.
    var fingerprint: String {
        [symbol, side, quantity, entryPrice, exitPrice ?? "", pnl ?? "", fees ?? "", currency ?? "", openedAt + (openedZone.map { " " + $0 } ?? ""),
         closedAt ?? "", feesCurrency ?? ""].joined(separator: "\u{1F}")
    }

    static func make(_ record: CSVRecord, layout: ImportProfile.Layout, profile: ImportProfile) -> Outcome {
        let line = record.line
        if let error = record.error { return .rejected(Rejection(line: line, column: nil, raw: raw(record.fields.last ?? []), reason: error)) }
        // Rules first: rows of other kinds (and other sections) may have other widths.
        for rule in layout.rules {
            var holds = false
            if rule.column < record.fields.count, let word = cell(record.fields[rule.column], profile.encoding)?.lowercased() {
                holds = rule.words.contains { $0.matches(word) }
            } else if rule.column < record.fields.count {
                holds = rule.words.contains { $0.matches("") }
            }
            if holds != rule.keep { return .skipped }
        }
        guard record.fields.count == layout.width else {
            return .rejected(Rejection(line: line, column: nil, raw: nil, reason: "\(record.fields.count) columns where the header has \(layout.width)"))
        }
        do {
            return .trade(try build(record, layout: layout, profile: profile))
        } catch {
            return .rejected(error)
        }
    }

    /// A cell's text without surrounding spaces, nil when empty or not text in `encoding`.
    /// Trimmed on the bytes: Foundation's trimming costs more than the rest of a row.
    private static func cell(_ bytes: [UInt8], _ encoding: TextEncoding) -> String? {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        guard start < end else { return nil }
        return encoding.decode(bytes[start..<end])
    }

    private static func build(_ record: CSVRecord, layout: ImportProfile.Layout, profile: ImportProfile) throws(Rejection) -> TradeRow {
        let line = record.line
        func rejection(_ field: ImportProfile.Field, _ raw: String?, _ reason: String) -> Rejection {
            Rejection(line: line, column: layout[field]?.spec.columnName ?? field.rawValue, raw: raw.map { Self.raw(Array($0.utf8)) }, reason: reason)
        }
        func text(_ column: Int, _ field: ImportProfile.Field) throws(Rejection) -> String? {
            let bytes = record.fields[column]
            guard let value = cell(bytes, profile.encoding) else {
                if bytes.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                    throw Rejection(line: line, column: layout[field]?.spec.columnName, raw: raw(bytes), reason: profile.encoding == .utf8 ? "not valid UTF-8" : "not valid \(profile.encoding.rawValue) text")
                }
                return nil
            }
            return value
        }
        func value(_ field: ImportProfile.Field) throws(Rejection) -> String? {
            guard let bound = layout[field] else { return nil }
            var found: String?
            switch bound.place {
            case .column(let column): found = try text(column, field)
            case .joined(let columns):
                var parts: [String] = []
                for column in columns { if let part = try text(column, field) { parts.append(part) } }
                found = parts.isEmpty ? nil : parts.joined(separator: " ")
            case .firstOf(let columns):
                for column in columns { if let part = try text(column, field) { found = part; break } }
            case .value(let constant): found = constant.isEmpty ? nil : constant
            }
            if let pattern = bound.spec.pattern, let whole = found {
                guard let extracted = pattern.extract(whole), !extracted.isEmpty else {
                    if profile.required.contains(field) { throw rejection(field, whole, "\(field.rawValue): '\(whole.prefix(80))' does not match the pattern \(pattern)") }
                    return nil
                }
                found = String(extracted)
            }
            return found
        }
        func required(_ field: ImportProfile.Field) throws(Rejection) -> String {
            guard let found = try value(field) else { throw rejection(field, "", "\(field.rawValue) is empty") }
            return found
        }
        func decimal(_ field: ImportProfile.Field, _ written: String?) throws(Rejection) -> (text: String, negative: Bool)? {
            guard let written else { return nil }
            switch (layout[field]?.spec.number ?? profile.number).parse(written) {
            case .success(let parsed): return parsed
            case .failure(.notANumber): throw rejection(field, written, "\(field.rawValue) is not a number")
            case .failure(.tooManyIntegerDigits(let count)):
                throw rejection(field, written, "\(field.rawValue) has \(count) digits before the decimal point (at most \(NumberFormat.maximumIntegerDigits))")
            case .failure(.tooManyDecimals(let count)):
                throw rejection(field, written, "\(field.rawValue) has \(count) decimals: at most \(NumberFormat.maximumFractionDigits) are kept exactly (round_to in the profile rounds them)")
            }
        }
        func signed(_ parsed: (text: String, negative: Bool)?) -> String? { parsed.map { ($0.negative ? "-" : "") + $0.text } }
        var rowZone: String?
        if let column = layout.zoneColumn {
            guard let zone = try text(column, .openedAt) else {
                throw Rejection(line: line, column: profile.timeZoneColumn, raw: "", reason: "the time zone is empty")
            }
            guard ZoneNames.isKnown(zone) else {
                throw Rejection(line: line, column: profile.timeZoneColumn, raw: raw(Array(zone.utf8)), reason: "time zone '\(zone.prefix(60))' is not an IANA zone name")
            }
            rowZone = zone
        }
        func date(_ field: ImportProfile.Field, _ written: String?) throws(Rejection) -> DateFormat.Parsed? {
            guard let written else { return nil }
            let format = layout[field]?.spec.dateFormat ?? profile.dateFormat
            guard var parsed = format.parse(Array(written.utf8)[...]) else {
                throw rejection(field, written, "\(field.rawValue) is not a valid date and time in the format '\(format.pattern)'")
            }
            if parsed.zone == nil { parsed.zone = rowZone }
            return parsed
        }

        let symbol = try required(.symbol)
        guard symbol.utf8.count <= 64 else { throw rejection(.symbol, symbol, "symbol is over 64 bytes") }
        guard let quantity = try decimal(.quantity, try required(.quantity)) else { throw rejection(.quantity, "", "quantity is empty") }
        var side: String
        let sideText = try value(.side)
        if profile.signedQuantity, sideText == nil {
            side = quantity.negative ? "sell" : "buy"
        } else {
            let word = try required(.side).lowercased()
            if profile.buyWords.contains(where: { $0.matches(word) }) { side = "buy" } else if profile.sellWords.contains(where: { $0.matches(word) }) { side = "sell" } else {
                throw rejection(.side, word, "unknown side (buy: \(profile.buyWords.map(\.description).joined(separator: "/")), sell: \(profile.sellWords.map(\.description).joined(separator: "/")))")
            }
            if profile.signedQuantity, quantity.negative { side = "sell" }
        }
        guard profile.signedQuantity || !quantity.negative, quantity.text.utf8.contains(where: { $0 >= 0x31 && $0 <= 0x39 }) else {
            throw rejection(.quantity, (quantity.negative ? "-" : "") + quantity.text, "quantity must be more than 0")
        }
        guard let entry = try decimal(.entryPrice, try required(.entryPrice)) else { throw rejection(.entryPrice, "", "entry_price is empty") }
        guard !entry.negative else { throw rejection(.entryPrice, "-" + entry.text, "entry_price must not be negative") }
        let exit = try decimal(.exitPrice, try value(.exitPrice))
        if let exit, exit.negative { throw rejection(.exitPrice, "-" + exit.text, "exit_price must not be negative") }
        let pnl = try decimal(.pnl, try value(.pnl))
        let fees = try decimal(.fees, try value(.fees))
        guard let opened = try date(.openedAt, try required(.openedAt)) else { throw rejection(.openedAt, "", "opened_at is empty") }
        let closed = try date(.closedAt, try value(.closedAt))
        if let closed, closed.zone == opened.zone, closed.local < opened.local {
            throw rejection(.closedAt, closed.local, "the trade closes (\(closed.local)) before it opens (\(opened.local))")
        }
        let tradeID = try value(.tradeID)
        if let tradeID, tradeID.utf8.count > 100 { throw rejection(.tradeID, tradeID, "trade_id is over 100 bytes") }
        let currency = try value(.currency)
        if let currency, currency.utf8.count > 10 { throw rejection(.currency, currency, "currency is over 10 bytes") }
        let feesCurrency = try value(.feesCurrency)
        if let feesCurrency, feesCurrency.utf8.count > 10 { throw rejection(.feesCurrency, feesCurrency, "fees_currency is over 10 bytes") }
        return TradeRow(
            line: line, tradeID: tradeID, symbol: symbol, side: side, quantity: quantity.text, entryPrice: entry.text,
            exitPrice: exit?.text, pnl: signed(pnl), fees: signed(fees), feesCurrency: feesCurrency, currency: currency,
            openedAt: opened.local, openedZone: opened.zone, closedAt: closed?.local, closedZone: closed?.zone
        )
    }

    /// A raw value for `import_errors`: text, no NUL, at most 200 characters.
    static func raw(_ bytes: [UInt8]) -> String {
        String(String(decoding: bytes.prefix(800), as: UTF8.self).replacingOccurrences(of: "\0", with: "").prefix(200))
    }
}
