/// `PHONE_NUMBER`: international numbers (`+49 30 1234567`, `+1 (555) 123-4567`, `0049 …`,
/// `+49 (0)30 …`), German and British national numbers with their leading 0 (`030 12345678`,
/// `0151/23456789`, `020 7946 0958`) and North American ones (`(555) 123-4567`, `555-123-4567`,
/// `1-800-555-0199`, `425 8829090`, ten bare digits, a country code without `+` before ten digits:
/// `91-415-555-0132`). Groups split by spaces, hyphens, slashes, dots or parentheses; what reads
/// as a date or an SSN is left to those recognizers. Scored 0.4 as in Presidio.
public struct PhoneRecognizer: Recognizer {
    public let name = "PhoneRecognizer"
    public let entities = [Entity.phone]
    public let context = ["phone", "telephone", "tel", "mobile", "cell", "call", "fax", "number", "telefon", "handy", "mobil", "rufnummer", "nummer", "anrufen", "erreichbar", "whatsapp"]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        var groups = [Int]()
        var separators = [UInt8]()
        while index < text.count {
            let byte = text[index]
            let international = byte == UInt8(ascii: "+") && text.isDigit(index + 1)
            let opening = byte == UInt8(ascii: "(") && text.isDigit(index + 1)
            guard international || opening || (byte &- 0x30 < 10 && text.boundaryBefore(index) && !USSSNRecognizer.joined(text, index - 1)),
                  !text.isWord(index - 1), !Self.continuesNumber(text, index)
            else { index += 1; continue }
            groups.removeAll(keepingCapacity: true)
            separators.removeAll(keepingCapacity: true)
            var scan = international ? index + 1 : index
            var end = scan
            var current = 0
            var parenthesis = false
            var digits = 0
            var firstDigits: (UInt8, UInt8, UInt8) = (0, 0, 0)
            while scan < text.count, digits <= 16 {
                let next = text[scan]
                if next &- 0x30 < 10 {
                    if digits == 0 { firstDigits.0 = next } else if digits == 1 { firstDigits.1 = next } else if digits == 2 { firstDigits.2 = next }
                    digits += 1
                    current += 1
                    scan += 1
                    end = scan
                } else if next == UInt8(ascii: "("), !parenthesis, text.isDigit(scan + 1) {
                    if current > 0 { groups.append(current); separators.append(next); current = 0 }
                    parenthesis = true
                    scan += 1
                } else if next == UInt8(ascii: ")"), parenthesis, current > 0 {
                    groups.append(current); separators.append(next); current = 0
                    parenthesis = false
                    scan += 1
                    if scan < text.count, text[scan] == UInt8(ascii: " "), text.isDigit(scan + 1) { scan += 1 }
                } else if [UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(next), current > 0,
                          text.isDigit(scan + 1) || (next == UInt8(ascii: " ") && scan + 2 < text.count && text[scan + 1] == UInt8(ascii: "(") && text.isDigit(scan + 2)) {
                    groups.append(current); separators.append(next); current = 0
                    scan += 1
                } else {
                    break
                }
            }
            if current > 0 { groups.append(current) }
            let matched = !text.isWord(end) && !parenthesis
                && Self.isPhone(international: international, groups: groups, separators: separators, digits: digits, first: firstDigits)
            if matched {
                findings.append(Finding(entityType: Entity.phone, start: index, end: end, score: 0.4, recognizer: name))
                index = end
            } else {
                index = max(index + 1, text.wordEnd(from: index + (international || opening ? 1 : 0)))
            }
        }
    }

    /// Whether `index` follows a digit group and one separator: the rest of a longer number (a
    /// card number failing Luhn, say) is not a phone number of its own.
    static func continuesNumber(_ text: UnsafeBufferPointer<UInt8>, _ index: Int) -> Bool {
        guard index >= 2, text.isDigit(index - 2) else { return false }
        return [UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(text[index - 1])
    }

    /// Group sizes of dates and SSNs.
    static let notPhoneShapes: Set<[Int]> = [[4, 2, 2], [2, 2, 4], [1, 2, 4], [2, 1, 4], [1, 1, 4], [2, 2, 2], [3, 2, 4], [2, 2], [4, 2]]

    static func isPhone(international: Bool, groups: [Int], separators: [UInt8], digits: Int, first: (UInt8, UInt8, UInt8)) -> Bool {
        let zero = UInt8(ascii: "0"), one = UInt8(ascii: "1")
        var digits = digits
        // "+49 (0)30 …": the trunk 0 in parentheses is not dialled from abroad.
        if international, groups.count > 2, groups[1] == 1, separators.first == UInt8(ascii: "(") || separators.dropFirst().first == UInt8(ascii: ")") { digits -= 1 }
        if international || (first.0 == zero && first.1 == zero) {
            // E.164: a country code that does not start with 0, at most 15 digits; +1 has 10 after it.
            let n = international ? digits : digits - 2
            let leading = international ? first.0 : first.2
            if leading == one, n != 11 { return false }
            return (8...15).contains(n) && leading != zero
        }
        // A date (2026-11-24, 24.11.2026, 11/24/26) or an SSN (123-45-6789) is not a phone number.
        if notPhoneShapes.contains(groups) { return false }
        if first.0 == zero {
            // A national number with its trunk prefix (Germany, the UK, most of Europe).
            return first.1 != zero && (9...12).contains(digits) && (groups.count >= 2 || digits >= 10)
        }
        // North America: (555) 123-4567, 555-123-4567, 425 8829090, and ten bare digits (scored 0.4,
        // as Presidio's phone numbers are) with an area code that does not start with 0 or 1.
        if groups == [3, 3, 4] || groups == [3, 7] || groups == [10] { return first.0 >= UInt8(ascii: "2") }
        // 1 and ten digits: 1-800-555-0199, 13812345678.
        if groups == [1, 3, 3, 4] || groups == [11] { return first.0 == one && first.1 >= UInt8(ascii: "2") }
        // A country code without its + before ten digits in groups: 91-415-555-0132.
        if groups.count == 4, (2...3).contains(groups[0]), groups.dropFirst().elementsEqual([3, 3, 4]) { return separators.allSatisfy { $0 == separators[0] } }
        return false
    }
}

/// `DATE_TIME`: ISO dates (with a time, its fraction and offset), German `24.11.2026`,
/// `11/24/2026` and `24/11/2026`, written dates in English and German (`24. November 2026`,
/// `3. März 1985`, `November 24, 2026`, `Nov 24th 2026`), and Presidio's short forms
/// (`5-MAY-2021`, `21-May`, `May-21`, and month/year `5/2021` and `05/21` at low scores). Months and days are checked. Context words about
/// birth ("born", "geboren", "DOB", "Geburtsdatum") raise the score of a date of birth.
public struct DateRecognizer: Recognizer {
    public let name = "DateRecognizer"
    public let entities = [Entity.dateTime]
    public let context = ["date", "birthday", "born", "birth", "dob", "geboren", "geburtsdatum", "geburtstag", "geb", "datum", "am", "on", "since", "seit", "bis", "until"]

    static let months = WordTable([
        ("january", 1), ("jan", 1), ("januar", 1), ("jänner", 1), ("february", 2), ("feb", 2), ("februar", 2), ("march", 3), ("mar", 3),
        ("märz", 3), ("maerz", 3), ("mär", 3), ("april", 4), ("apr", 4), ("may", 5), ("mai", 5), ("june", 6), ("jun", 6), ("juni", 6),
        ("july", 7), ("jul", 7), ("juli", 7), ("august", 8), ("aug", 8), ("september", 9), ("sep", 9), ("sept", 9), ("october", 10),
        ("oct", 10), ("oktober", 10), ("okt", 10), ("november", 11), ("nov", 11), ("december", 12), ("dec", 12), ("dezember", 12), ("dez", 12),
    ])

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            guard text.boundaryBefore(index), text.isWord(index), !USSSNRecognizer.joined(text, index - 1) else { index += 1; continue }
            let found = text.isDigit(index)
                ? Self.numericDate(text, index).map { ($0, 0.6) } ?? Self.dayMonthYear(text, index).map { ($0, 0.6) } ?? Self.monthYear(text, index)
                : (Self.monthDayYear(text, index) ?? Self.monthHyphenYear(text, index)).map { ($0, 0.6) }
            if let (end, score) = found {
                findings.append(Finding(entityType: Entity.dateTime, start: index, end: end, score: score, recognizer: name))
                index = end
            } else {
                index = text.wordEnd(from: index)
            }
        }
    }

    /// Reads up to `maximum` digits at `index`: (value, count).
    static func number(_ text: UnsafeBufferPointer<UInt8>, _ index: Int, maximum: Int) -> (value: Int, count: Int) {
        var value = 0, count = 0
        while count < maximum, text.isDigit(index + count) {
            value = value * 10 + Int(text[index + count] &- 0x30)
            count += 1
        }
        return text.isDigit(index + count) ? (0, 0) : (value, count)
    }

    static func valid(day: Int, month: Int) -> Bool { (1...12).contains(month) && (1...[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]).contains(day) }

    /// 2026-11-24[T10:30[:00][Z|+01:00]], 24.11.2026, 24.11.26, 11/24/2026, 24/11/2026, 24-11-2026.
    static func numericDate(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        let first = number(text, start, maximum: 4)
        guard first.count > 0, start + first.count < text.count else { return nil }
        let separator = text[start + first.count]
        guard [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/")].contains(separator) else { return nil }
        let second = number(text, start + first.count + 1, maximum: 2)
        let secondEnd = start + first.count + 1 + second.count
        guard second.count > 0, secondEnd < text.count, text[secondEnd] == separator else { return nil }
        let third = number(text, secondEnd + 1, maximum: 4)
        var end = secondEnd + 1 + third.count
        let timeFollows = first.count == 4 && end < text.count && text[end] == UInt8(ascii: "T") && text.isDigit(end + 1)
        guard third.count > 0, !text.isWord(end) || timeFollows, !(end + 1 < text.count && text[end] == separator && text.isDigit(end + 1)) else { return nil }
        if first.count == 4 {
            guard separator == UInt8(ascii: "-"), third.count == 2, valid(day: third.value, month: second.value) else { return nil }
            // A time after an ISO date.
            if end + 5 < text.count, text[end] == UInt8(ascii: "T") || text[end] == UInt8(ascii: " "), number(text, end + 1, maximum: 2).count == 2,
               text[end + 3] == UInt8(ascii: ":"), number(text, end + 4, maximum: 2).count == 2 {
                end += 6
                if end + 2 < text.count, text[end] == UInt8(ascii: ":"), number(text, end + 1, maximum: 2).count == 2 {
                    end += 3
                    // A fraction of a second.
                    if end + 1 < text.count, text[end] == UInt8(ascii: "."), text.isDigit(end + 1) {
                        end += 1
                        while text.isDigit(end) { end += 1 }
                    }
                }
                if end < text.count, text[end] == UInt8(ascii: "Z") {
                    end += 1
                } else if end + 5 < text.count, text[end] == UInt8(ascii: "+") || text[end] == UInt8(ascii: "-"), number(text, end + 1, maximum: 2).count == 2,
                          text[end + 3] == UInt8(ascii: ":"), number(text, end + 4, maximum: 2).count == 2, !text.isWord(end + 6) {
                    end += 6  // an offset: +02:00
                }
            }
            return end
        }
        guard first.count <= 2, third.count == 4 || third.count == 2 else { return nil }
        if separator == UInt8(ascii: ".") { return valid(day: first.value, month: second.value) ? end : nil }
        return valid(day: first.value, month: second.value) || valid(day: second.value, month: first.value) ? end : nil
    }

    /// 5/2021 and 05/21: a month and a year alone, scored 0.2 and 0.1 as in Presidio (page 5/21
    /// reads the same).
    static func monthYear(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> (Int, Double)? {
        let month = number(text, start, maximum: 2)
        guard month.count > 0, (1...12).contains(month.value), start + month.count < text.count, text[start + month.count] == UInt8(ascii: "/") else { return nil }
        let year = number(text, start + month.count + 1, maximum: 4)
        let end = start + month.count + 1 + year.count
        guard year.count == 4 || year.count == 2, !text.isWord(end), !USSSNRecognizer.joined(text, end) else { return nil }
        return (end, year.count == 4 ? 0.2 : 0.1)
    }

    /// MAY-2021, May-21 (Presidio's MMM-yyyy and MMM-yy).
    static func monthHyphenYear(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        let monthEnd = text.wordEnd(from: start)
        guard monthEnd - start == 3, months.find(text, start..<monthEnd) != nil, monthEnd < text.count, text[monthEnd] == UInt8(ascii: "-") else { return nil }
        let year = number(text, monthEnd + 1, maximum: 4)
        let end = monthEnd + 1 + year.count
        guard year.count == 4 || year.count == 2, !text.isWord(end) else { return nil }
        return end
    }

    /// 24. November 2026, 24 Nov 2026, 3. März 1985, 1st of May 2020; 5-MAY-2021, 21-May.
    static func dayMonthYear(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        let day = number(text, start, maximum: 2)
        guard day.count > 0 else { return nil }
        var index = start + day.count
        // Presidio's dd-MMM-yyyy, dd-MMM-yy and dd-MMM.
        if index < text.count, text[index] == UInt8(ascii: "-"), text.isLetter(index + 1) {
            let monthEnd = text.wordEnd(from: index + 1)
            guard monthEnd - index - 1 == 3, let found = months.find(text, index + 1..<monthEnd), valid(day: day.value, month: Int(found)) else { return nil }
            guard monthEnd < text.count, text[monthEnd] == UInt8(ascii: "-"), text.isDigit(monthEnd + 1) else { return text.isWord(monthEnd) ? nil : monthEnd }
            let year = number(text, monthEnd + 1, maximum: 4)
            guard year.count == 4 || year.count == 2, !text.isWord(monthEnd + 1 + year.count) else { return nil }
            return monthEnd + 1 + year.count
        }
        if index < text.count, text[index] == UInt8(ascii: ".") { index += 1 } else if text.matches(Array("st".utf8), at: index) || text.matches(Array("nd".utf8), at: index) || text.matches(Array("rd".utf8), at: index) || text.matches(Array("th".utf8), at: index) { index += 2 }
        guard index < text.count, text[index] == UInt8(ascii: " ") else { return nil }
        index += 1
        if text.matches(Array("of ".utf8), at: index) { index += 3 }
        let monthEnd = text.wordEnd(from: index)
        guard monthEnd > index, let found = months.find(text, index..<monthEnd), valid(day: day.value, month: Int(found)) else { return nil }
        index = monthEnd
        if index < text.count, text[index] == UInt8(ascii: ".") { index += 1 }
        guard index < text.count, text[index] == UInt8(ascii: " ") else { return nil }
        let year = number(text, index + 1, maximum: 4)
        guard year.count == 4, !text.isWord(index + 1 + year.count) else { return nil }
        return index + 1 + year.count
    }

    /// November 24, 2026; Nov 24th 2026.
    static func monthDayYear(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        let monthEnd = text.wordEnd(from: start)
        guard (3...9).contains(monthEnd - start), let found = months.find(text, start..<monthEnd) else { return nil }
        let month = Int(found)
        var index = monthEnd
        if index < text.count, text[index] == UInt8(ascii: ".") { index += 1 }
        guard index < text.count, text[index] == UInt8(ascii: " ") else { return nil }
        let day = number(text, index + 1, maximum: 2)
        guard day.count > 0, valid(day: day.value, month: month) else { return nil }
        index += 1 + day.count
        if ["st", "nd", "rd", "th"].contains(where: { text.matches(Array($0.utf8), at: index) }) { index += 2 }
        if index < text.count, text[index] == UInt8(ascii: ",") { index += 1 }
        guard index < text.count, text[index] == UInt8(ascii: " ") else { return nil }
        let year = number(text, index + 1, maximum: 4)
        guard year.count == 4, !text.isWord(index + 1 + year.count) else { return nil }
        return index + 1 + year.count
    }
}
