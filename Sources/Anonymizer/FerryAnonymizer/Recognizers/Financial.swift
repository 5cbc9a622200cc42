/// `CREDIT_CARD`: 13 to 19 digits, in groups split by single spaces or hyphens, with an issuer's
/// first digits (as Presidio takes them: 4, 50–55, 2221–2720, 3, 6, and 1 unless the number has
/// 13 digits) and a valid Luhn check digit. Numbers failing Luhn are not reported (as in
/// Presidio). A number ends where a group ends: of the group boundaries, the longest number that
/// passes is taken, so several cards on one line are several findings.
public struct CreditCardRecognizer: Recognizer {
    public let name = "CreditCardRecognizer"
    public let entities = [Entity.creditCard]
    public let context = ["credit", "card", "visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "kreditkarte", "karte", "kartennummer", "cc"]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        var digits = [UInt8]()
        digits.reserveCapacity(24)
        /// (digits so far, end offset) at each group's end.
        var boundaries = [(count: Int, end: Int)]()
        /// Where the last card ended: the next may follow it after one separator.
        var lastEnd = -2
        while index < text.count {
            guard text.isDigit(index), text.boundaryBefore(index), index == 0 || text[index - 1] != UInt8(ascii: "+"),
                  index == lastEnd + 1 || !PhoneRecognizer.continuesNumber(text, index)
            else { index += 1; continue }
            digits.removeAll(keepingCapacity: true)
            boundaries.removeAll(keepingCapacity: true)
            var scan = index
            while scan < text.count, digits.count <= 19 {
                if text.isDigit(scan) {
                    digits.append(text[scan] &- 0x30)
                    scan += 1
                } else if (text[scan] == UInt8(ascii: " ") || text[scan] == UInt8(ascii: "-")), text.isDigit(scan + 1) {
                    boundaries.append((digits.count, scan))
                    scan += 1
                } else {
                    break
                }
            }
            if !text.isWord(scan) { boundaries.append((digits.count, scan)) }
            let found = boundaries.reversed().first { boundary in
                (13...19).contains(boundary.count) && Self.hasIssuerPrefix(digits, count: boundary.count)
                    && Self.luhn(digits[..<boundary.count])
            }
            if let found {
                findings.append(Finding(entityType: Entity.creditCard, start: index, end: found.end, score: Score.validated, recognizer: name))
                index = found.end
                lastEnd = found.end
            } else {
                index = text.wordEnd(from: index)
            }
        }
    }

    static func hasIssuerPrefix(_ d: [UInt8], count: Int) -> Bool {
        let two = Int(d[0]) * 10 + Int(d[1])
        let four = two * 100 + Int(d[2]) * 10 + Int(d[3])
        switch d[0] {
        case 4, 3, 6: return true
        case 5: return (50...55).contains(two)
        case 2: return (2221...2720).contains(four)
        case 1: return count != 13
        default: return false
        }
    }

    static func luhn(_ digits: ArraySlice<UInt8>) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }
}

/// `IBAN_CODE`: a country code, two check digits and the country's number of letters and digits
/// (optionally in groups of four split by spaces or dashes), with a valid ISO 13616 mod-97 checksum.
public struct IBANRecognizer: Recognizer {
    public let name = "IbanRecognizer"
    public let entities = [Entity.iban]
    public let context = ["iban", "bank", "konto", "kontonummer", "account", "überweisung", "transfer", "bankverbindung"]

    /// IBAN lengths per country (SWIFT's IBAN registry).
    static let lengths: [UInt16: Int] = {
        let table: [(String, Int)] = [
            ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16), ("BG", 22), ("BH", 22), ("BI", 27),
            ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22), ("CY", 28), ("CZ", 24), ("DE", 22), ("DJ", 27), ("DK", 18), ("DO", 28),
            ("EE", 20), ("EG", 29), ("ES", 24), ("FI", 18), ("FK", 18), ("FO", 18), ("FR", 27), ("GB", 22), ("GE", 22), ("GI", 23),
            ("GL", 18), ("GR", 27), ("GT", 28), ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26), ("IT", 27),
            ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32), ("LI", 21), ("LT", 20), ("LU", 20), ("LV", 21), ("LY", 25),
            ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MN", 20), ("MR", 27), ("MT", 31), ("MU", 30), ("NI", 28), ("NL", 18),
            ("NO", 15), ("OM", 23), ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22), ("RU", 33),
            ("SA", 24), ("SC", 31), ("SD", 18), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27), ("SO", 23), ("ST", 25), ("SV", 28),
            ("TL", 23), ("TN", 24), ("TR", 26), ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20), ("YE", 30),
        ]
        var lengths: [UInt16: Int] = [:]
        for (code, length) in table {
            let bytes = Array(code.utf8)
            lengths[UInt16(bytes[0]) << 8 | UInt16(bytes[1])] = length
        }
        return lengths
    }()

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        var characters = [UInt8]()
        characters.reserveCapacity(34)
        while index + 4 <= text.count {
            guard text.has(index, ByteClass.upper), text.has(index + 1, ByteClass.upper), text.isDigit(index + 2), text.isDigit(index + 3),
                  text.boundaryBefore(index),
                  let length = Self.lengths[UInt16(text[index]) << 8 | UInt16(text[index + 1])]
            else { index += 1; continue }
            characters.removeAll(keepingCapacity: true)
            var scan = index
            var end = index
            // Groups of four split by spaces or by dashes (one kind per IBAN).
            var separator: UInt8?
            while scan < text.count, characters.count < length {
                if text.has(scan, ByteClass.digit | ByteClass.upper) {
                    characters.append(text[scan])
                    scan += 1
                    end = scan
                } else if text[scan] == UInt8(ascii: " ") || text[scan] == UInt8(ascii: "-"), text.has(scan + 1, ByteClass.digit | ByteClass.upper),
                          characters.count % 4 == 0, separator == nil || separator == text[scan] {
                    separator = text[scan]
                    scan += 1
                } else {
                    break
                }
            }
            if characters.count == length, !text.isWord(end), Self.mod97(characters) == 1 {
                findings.append(Finding(entityType: Entity.iban, start: index, end: end, score: Score.validated, recognizer: name))
                index = end
            } else {
                index += 2
            }
        }
    }

    /// The IBAN's remainder mod 97 with the first four characters moved to the end and letters
    /// as 10…35 (1 for a valid IBAN).
    static func mod97(_ characters: [UInt8]) -> Int {
        var remainder = 0
        for offset in 0..<characters.count {
            let byte = characters[(offset + 4) % characters.count]
            if byte &- 0x30 < 10 {
                remainder = (remainder * 10 + Int(byte &- 0x30)) % 97
            } else {
                remainder = (remainder * 100 + Int(byte - 0x41 + 10)) % 97
            }
        }
        return remainder
    }
}

/// `US_SSN`: 123-45-6789 (hyphens, spaces or dots; scored 0.5), or nine bare digits, 12345-6789
/// or 123-456789 (0.05 unless context words raise it, as in Presidio), never with area 000, 666 or 9xx, group 00, serial 0000, one repeated
/// digit, or the well-known sample numbers.
public struct USSSNRecognizer: Recognizer {
    public let name = "UsSsnRecognizer"
    public let entities = [Entity.usSSN]
    public let context = ["social", "security", "ssn", "ssns", "ssid", "sozialversicherungsnummer"]

    static let samples: Set<Int> = [123_456_789, 78_051_120, 219_099_999]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index + 9 <= text.count {
            guard text.isDigit(index), text.boundaryBefore(index), !Self.joined(text, index - 1) else { index += 1; continue }
            var end = text.wordEnd(from: index)
            var value = 0
            var score = 0.0
            if end - index == 9, text[index..<end].allSatisfy({ $0 &- 0x30 < 10 }), !Self.joined(text, end) {
                value = text[index..<end].reduce(0) { $0 * 10 + Int($1 &- 0x30) }
                score = 0.05
            } else if end - index == 3, index + 11 <= text.count {
                let separator = text[index + 3]
                if [UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: ".")].contains(separator), text[index + 6] == separator,
                   (index + 4..<index + 6).allSatisfy({ text.isDigit($0) }), (index + 7..<index + 11).allSatisfy({ text.isDigit($0) }),
                   !text.isWord(index + 11), !Self.joined(text, index + 11) {
                    for position in [index, index + 1, index + 2, index + 4, index + 5, index + 7, index + 8, index + 9, index + 10] {
                        value = value * 10 + Int(text[position] &- 0x30)
                    }
                    score = 0.5
                    end = index + 11
                }
            }
            // Presidio's very weak forms, 07805-1121 and 078-051121: hyphenated, scored 0.05.
            let head = end - index
            if score == 0, head == 5 || head == 3, end < text.count, text[end] == UInt8(ascii: "-") {
                let tail = 9 - head
                let tailEnd = end + 1 + tail
                if tailEnd <= text.count, (end + 1..<tailEnd).allSatisfy({ text.isDigit($0) }), !text.isWord(tailEnd), !Self.joined(text, tailEnd) {
                    value = 0
                    for position in Array(index..<end) + Array(end + 1..<tailEnd) { value = value * 10 + Int(text[position] &- 0x30) }
                    score = 0.05
                    end = tailEnd
                }
            }
            if score > 0, Self.valid(value) {
                findings.append(Finding(entityType: Entity.usSSN, start: index, end: end, score: score, recognizer: name))
            }
            index = max(end, index + 1)
        }
    }

    /// A hyphen or dot joining the number to more digits (a longer number, a date, a phone number).
    static func joined(_ text: UnsafeBufferPointer<UInt8>, _ index: Int) -> Bool {
        guard index >= 0, index < text.count, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: ".") || text[index] == UInt8(ascii: "/") else { return false }
        return text.isDigit(index - 1) && text.isDigit(index + 1)
    }

    static func valid(_ value: Int) -> Bool {
        let area = value / 1_000_000, group = value / 10_000 % 100, serial = value % 10_000
        guard area != 0, area != 666, area < 900, group != 0, serial != 0, !samples.contains(value) else { return false }
        let digits = String(value)
        return !(digits.count == 9 && Set(digits).count == 1)
    }
}
