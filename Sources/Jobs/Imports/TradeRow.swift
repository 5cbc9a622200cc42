/// One CSV record turned into a trade ready for COPY, or the reason it was refused.
///
/// Amounts stay decimal text (`1234.5`), never floating point; times are local text in the
/// profile's zone, converted by PostgreSQL.
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
    var currency: String?
    var openedAt: String
    var closedAt: String?

    /// A refused row: which column, its raw value (cut), why.
    struct Rejection: Sendable, Error {
        var line: Int
        var column: String?
        var raw: String?
        var reason: String
    }

    /// The fields that identify a trade without a broker id, for its key.
    var fingerprint: String {
        [symbol, side, quantity, entryPrice, exitPrice ?? "", pnl ?? "", fees ?? "", currency ?? "", openedAt, closedAt ?? ""].joined(separator: "\u{1F}")
    }

    static func make(_ record: CSVRecord, columns: ImportProfile.Positions, width: Int, profile: ImportProfile) -> Result<TradeRow, Rejection> {
        let line = record.line
        if let error = record.error { return .failure(Rejection(line: line, column: nil, raw: raw(record.fields.last ?? []), reason: error)) }
        guard record.fields.count == width else {
            return .failure(Rejection(line: line, column: nil, raw: nil, reason: "\(record.fields.count) columns where the header has \(width)"))
        }
        func text(_ field: ImportProfile.Field) -> Result<String?, Rejection> {
            guard let index = columns[field] else { return .success(nil) }
            // Spaces and tabs trimmed on the bytes (Foundation's trimming costs more than the rest of a row).
            let bytes = record.fields[index]
            var start = bytes.startIndex, end = bytes.endIndex
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
            guard start < end else { return .success(nil) }
            guard let value = String(validating: bytes[start..<end], as: UTF8.self) else {
                return .failure(Rejection(line: line, column: profile.columns[field], raw: raw(bytes), reason: "not valid UTF-8"))
            }
            return .success(value)
        }
        func required(_ field: ImportProfile.Field) -> Result<String, Rejection> {
            text(field).flatMap { value in
                value.map { .success($0) } ?? .failure(Rejection(line: line, column: profile.columns[field], raw: "", reason: "\(field.rawValue) is empty"))
            }
        }
        func decimal(_ field: ImportProfile.Field, _ value: String?) -> Result<(text: String, negative: Bool)?, Rejection> {
            guard let value else { return .success(nil) }
            guard let parsed = Self.decimal(value, profile: profile) else {
                return .failure(Rejection(line: line, column: profile.columns[field], raw: raw(Array(value.utf8)), reason: "\(field.rawValue) is not a number"))
            }
            return .success(parsed)
        }
        func date(_ field: ImportProfile.Field, _ value: String?) -> Result<String?, Rejection> {
            guard let value else { return .success(nil) }
            guard let parsed = profile.dateFormat.parse(Array(value.utf8)[...]) else {
                return .failure(Rejection(line: line, column: profile.columns[field], raw: raw(Array(value.utf8)), reason: "\(field.rawValue) is not a valid date and time in the profile's format"))
            }
            return .success(parsed)
        }
        do {
            let symbol = try required(.symbol).get()
            guard symbol.utf8.count <= 64 else { throw Rejection(line: line, column: profile.columns[.symbol], raw: raw(Array(symbol.utf8)), reason: "symbol is over 64 bytes") }
            guard let quantity = try decimal(.quantity, try required(.quantity).get()).get() else { throw Rejection(line: line, column: nil, raw: nil, reason: "quantity is empty") }
            var side: String
            let sideText = try text(.side).get()
            if profile.signedQuantity, sideText == nil {
                side = quantity.negative ? "sell" : "buy"
            } else {
                let word = try required(.side).get().lowercased()
                if profile.buyWords.contains(word) { side = "buy" } else if profile.sellWords.contains(word) { side = "sell" } else {
                    throw Rejection(line: line, column: profile.columns[.side], raw: raw(Array(word.utf8)), reason: "unknown side (buy: \(profile.buyWords.sorted().joined(separator: "/")), sell: \(profile.sellWords.sorted().joined(separator: "/")))")
                }
                if profile.signedQuantity, quantity.negative { side = "sell" }
            }
            guard quantity.text != "0", profile.signedQuantity || !quantity.negative, Self.isPositive(quantity.text) else {
                throw Rejection(line: line, column: profile.columns[.quantity], raw: quantity.text, reason: "quantity must be more than 0")
            }
            guard let entry = try decimal(.entryPrice, try required(.entryPrice).get()).get() else { throw Rejection(line: line, column: nil, raw: nil, reason: "entry_price is empty") }
            guard !entry.negative else { throw Rejection(line: line, column: profile.columns[.entryPrice], raw: "-" + entry.text, reason: "entry_price must not be negative") }
            let exit = try decimal(.exitPrice, try text(.exitPrice).get()).get()
            if let exit, exit.negative { throw Rejection(line: line, column: profile.columns[.exitPrice], raw: "-" + exit.text, reason: "exit_price must not be negative") }
            let pnl = try decimal(.pnl, try text(.pnl).get()).get()
            let fees = try decimal(.fees, try text(.fees).get()).get()
            guard let opened = try date(.openedAt, try required(.openedAt).get()).get() else { throw Rejection(line: line, column: nil, raw: nil, reason: "opened_at is empty") }
            let closed = try date(.closedAt, try text(.closedAt).get()).get()
            if let closed, closed < opened {
                throw Rejection(line: line, column: profile.columns[.closedAt], raw: closed, reason: "the trade closes (\(closed)) before it opens (\(opened))")
            }
            let tradeID = try text(.tradeID).get()
            if let tradeID, tradeID.utf8.count > 100 { throw Rejection(line: line, column: profile.columns[.tradeID], raw: raw(Array(tradeID.utf8)), reason: "trade_id is over 100 bytes") }
            let currency = try text(.currency).get()
            if let currency, currency.utf8.count > 10 { throw Rejection(line: line, column: profile.columns[.currency], raw: raw(Array(currency.utf8)), reason: "currency is over 10 bytes") }
            return .success(TradeRow(
                line: line, tradeID: tradeID, symbol: symbol, side: side, quantity: quantity.text, entryPrice: entry.text,
                exitPrice: exit?.text, pnl: pnl.map { ($0.negative ? "-" : "") + $0.text }, fees: fees.map { ($0.negative ? "-" : "") + $0.text },
                currency: currency, openedAt: opened, closedAt: closed
            ))
        } catch let rejection as Rejection {
            return .failure(rejection)
        } catch {
            return .failure(Rejection(line: line, column: nil, raw: nil, reason: "\(error)"))
        }
    }

    /// `1.234,56` (with `,` as decimal and `.` as thousands) → `1234.56`; the sign apart.
    /// Nil when it is not a number, or has over 22 integer or 8 fraction digits (numeric(30, 8)).
    static func decimal(_ text: String, profile: ImportProfile) -> (text: String, negative: Bool)? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst() } else if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var integer: [UInt8] = [], fraction: [UInt8] = []
        var inFraction = false
        for byte in bytes {
            if byte >= 0x30, byte <= 0x39 {
                if inFraction { fraction.append(byte) } else { integer.append(byte) }
            } else if byte == profile.decimal, !inFraction {
                inFraction = true
            } else if let thousands = profile.thousands, byte == thousands, !inFraction, !integer.isEmpty {
                continue
            } else {
                return nil
            }
        }
        guard !integer.isEmpty || !fraction.isEmpty else { return nil }
        while integer.count > 1, integer.first == 0x30 { integer.removeFirst() }
        while fraction.last == 0x30 { fraction.removeLast() }
        guard integer.count <= 22, fraction.count <= 8 else { return nil }
        let digits = String(decoding: integer.isEmpty ? [0x30] : integer, as: UTF8.self)
        return (fraction.isEmpty ? digits : digits + "." + String(decoding: fraction, as: UTF8.self), negative)
    }

    static func isPositive(_ text: String) -> Bool { text.utf8.contains { $0 >= 0x31 && $0 <= 0x39 } }

    /// A raw value for `import_errors`: text, no NUL, at most 200 characters.
    static func raw(_ bytes: [UInt8]) -> String {
        String(String(decoding: bytes.prefix(800), as: UTF8.self).replacingOccurrences(of: "\0", with: "").prefix(200))
    }
}
