import Foundation

/// How a file writes numbers: `1.234,56`, `$52.07`, `-$30.93`, `(12.50)`, `0.00373590975`.
///
/// Amounts stay decimal text, never floating point: the result is `1234.56` with the sign apart,
/// kept exactly (up to ``maximumFractionDigits`` decimals, as PostgreSQL's `numeric` stores them),
/// or rounded half away from zero to `roundTo` decimals when the profile says so.
struct NumberFormat: Sendable, Equatable {
    var decimal: UInt8 = UInt8(ascii: ".")
    /// A second decimal separator, for columns written both ways (`1.5` and `1,5`).
    var otherDecimal: UInt8?
    var thousands: UInt8?
    /// Decimals every amount is rounded to; nil keeps them all (up to ``maximumFractionDigits``).
    var roundTo: Int?

    static let maximumIntegerDigits = 22
    static let maximumFractionDigits = 18

    /// Currency signs a value may carry before or after its digits (`$52.07`, `12,50 €`).
    static let currencySigns: [[UInt8]] = ["$", "€", "£", "¥", "₿", "₹", "₽", "₩", "₺", "₪", "₫", "₴", "₦", "R$", "CHF", "US$", "A$", "C$"]
        .map { Array($0.utf8) }.sorted { $0.count > $1.count }

    enum Failure: Error, Equatable {
        case notANumber
        case tooManyIntegerDigits(Int)
        case tooManyDecimals(Int)
    }

    /// `text` as a decimal: digits `1234.56` and whether it is negative.
    func parse(_ text: String) -> Result<(text: String, negative: Bool), Failure> {
        var bytes = Array(text.utf8)[...]
        var negative = false
        func trimSpaces() {
            while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
            while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        }
        func takeSign() -> Bool {
            if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst(); return true }
            if bytes.starts(with: [0xE2, 0x88, 0x92]) { negative = true; bytes = bytes.dropFirst(3); return true }  // U+2212 minus
            if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst(); return true }
            return false
        }
        func takeCurrency() -> Bool {
            for sign in Self.currencySigns where bytes.starts(with: sign) {
                bytes = bytes.dropFirst(sign.count)
                return true
            }
            for sign in Self.currencySigns where bytes.count >= sign.count && bytes.suffix(sign.count).elementsEqual(sign) {
                bytes = bytes.dropLast(sign.count)
                return true
            }
            return false
        }
        trimSpaces()
        // Accounting negatives: (12.50).
        if bytes.first == UInt8(ascii: "("), bytes.last == UInt8(ascii: ")") {
            negative = true
            bytes = bytes.dropFirst().dropLast()
            trimSpaces()
        }
        // A sign and a currency in either order, before the digits: -$30.93, $-30.93, +€5.
        _ = takeSign(); trimSpaces()
        if takeCurrency() { trimSpaces(); if !negative { _ = takeSign() }; trimSpaces() }
        // A trailing minus (30.93-) is how some German exports write negatives.
        if bytes.last == UInt8(ascii: "-"), !negative { negative = true; bytes = bytes.dropLast(); trimSpaces() }

        var integer: [UInt8] = [], fraction: [UInt8] = []
        var inFraction = false
        for byte in bytes {
            if byte >= 0x30, byte <= 0x39 {
                if inFraction { fraction.append(byte) } else { integer.append(byte) }
            } else if byte == decimal || byte == otherDecimal, !inFraction {
                inFraction = true
            } else if let thousands, byte == thousands, !inFraction, !integer.isEmpty {
                continue
            } else {
                return .failure(.notANumber)
            }
        }
        guard !integer.isEmpty || !fraction.isEmpty else { return .failure(.notANumber) }
        while integer.count > 1, integer.first == 0x30 { integer.removeFirst() }
        if integer.isEmpty { integer = [0x30] }
        if let roundTo, fraction.count > roundTo {
            let up = fraction[roundTo] >= UInt8(ascii: "5")
            fraction.removeSubrange(roundTo...)
            if up { Self.incrementDigits(&integer, &fraction) }
        }
        while fraction.last == 0x30 { fraction.removeLast() }
        guard integer.count <= Self.maximumIntegerDigits else { return .failure(.tooManyIntegerDigits(integer.count)) }
        guard fraction.count <= Self.maximumFractionDigits else { return .failure(.tooManyDecimals(fraction.count)) }
        let digits = String(decoding: integer, as: UTF8.self)
        if integer == [0x30], fraction.isEmpty { negative = false }
        return .success((fraction.isEmpty ? digits : digits + "." + String(decoding: fraction, as: UTF8.self), negative))
    }

    /// Adds one unit in the last place of `integer.fraction`.
    private static func incrementDigits(_ integer: inout [UInt8], _ fraction: inout [UInt8]) {
        for position in fraction.indices.reversed() {
            if fraction[position] == UInt8(ascii: "9") { fraction[position] = UInt8(ascii: "0") } else { fraction[position] += 1; return }
        }
        for position in integer.indices.reversed() {
            if integer[position] == UInt8(ascii: "9") { integer[position] = UInt8(ascii: "0") } else { integer[position] += 1; return }
        }
        integer.insert(UInt8(ascii: "1"), at: 0)
    }
}

/// The character encoding of a file. The CSV structure (delimiters, quotes, line ends) is ASCII in
/// each of them, so records are split on the raw bytes and only field text is decoded: byte
/// offsets, and so checkpoints, stay those of the file.
enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    case latin1 = "latin-1"
    case windows1252 = "windows-1252"

    init?(name: String) {
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "utf-8", "utf8": self = .utf8
        case "latin-1", "latin1", "iso-8859-1", "iso8859-1": self = .latin1
        case "windows-1252", "cp1252", "cp-1252": self = .windows1252
        default: return nil
        }
    }

    /// Windows-1252's characters for 0x80–0x9F (nil: undefined there).
    private static let windowsHigh: [Unicode.Scalar?] = [
        "\u{20AC}", nil, "\u{201A}", "\u{0192}", "\u{201E}", "\u{2026}", "\u{2020}", "\u{2021}", "\u{02C6}", "\u{2030}", "\u{0160}", "\u{2039}", "\u{0152}", nil, "\u{017D}", nil,
        nil, "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}", "\u{2022}", "\u{2013}", "\u{2014}", "\u{02DC}", "\u{2122}", "\u{0161}", "\u{203A}", "\u{0153}", nil, "\u{017E}", "\u{0178}",
    ]

    /// The text of `bytes`, or nil when they are not text in this encoding.
    func decode(_ bytes: some Collection<UInt8>) -> String? {
        switch self {
        case .utf8:
            return String(validating: bytes, as: UTF8.self)
        case .latin1, .windows1252:
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            var scalars = String.UnicodeScalarView()
            for byte in bytes {
                if self == .windows1252, (0x80...0x9F).contains(byte) {
                    guard let scalar = Self.windowsHigh[Int(byte - 0x80)] else { return nil }
                    scalars.append(scalar)
                } else {
                    scalars.append(Unicode.Scalar(byte))
                }
            }
            return String(scalars)
        }
    }
}

/// A word a profile compares a cell with: exact, or a pattern with `*` for any text
/// (`"* buy"`, `"BUY - *"`); case is ignored.
struct WordPattern: Sendable, Hashable, CustomStringConvertible {
    let pieces: [String]
    let description: String

    init(_ written: String) {
        description = written
        pieces = written.lowercased().split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    }

    /// Whether `value` (already lowercased) is this word.
    func matches(_ value: String) -> Bool {
        guard pieces.count > 1 else { return value == pieces[0] }
        guard value.hasPrefix(pieces[0]), value.hasSuffix(pieces[pieces.count - 1]), value.count >= pieces[0].count + pieces[pieces.count - 1].count else { return false }
        var rest = value.dropFirst(pieces[0].count).dropLast(pieces[pieces.count - 1].count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let found = rest.range(of: piece) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }
}

/// IANA zone names both Foundation and PostgreSQL read the same way (`Europe/Amsterdam`, `UTC`).
/// Offsets written as zone names (`GMT+1`) are not among them: PostgreSQL reads their sign the
/// POSIX way, the opposite of what the file means.
enum ZoneNames {
    static let known: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC", "GMT", "Etc/UTC"])

    static func isKnown(_ name: String) -> Bool { known.contains(name) }
}
