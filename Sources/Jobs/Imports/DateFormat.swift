import FerrySupport

/// A date and time layout in the notation of Unicode/Java date patterns, parsed by hand: a million
/// rows cannot afford a DateFormatter each.
///
/// | token | reads |
/// | --- | --- |
/// | `yyyy`, `yy` | a four-digit year; a two-digit one (2000–2099) |
/// | `MM`, `M` | a two-digit month; one or two digits |
/// | `MMM`, `MMMM` | an English month name, abbreviated or in full (either is accepted, any case) |
/// | `dd`, `d` | a two-digit day; one or two digits |
/// | `HH`, `H` | hours 00–23; one or two digits |
/// | `hh`, `h` | hours 1–12, with `a` |
/// | `a` | `AM` or `PM` (any case, `a.m.` too) |
/// | `mm`, `ss` | minutes, seconds |
/// | `S` (any number) | a fraction of a second, 1 to 9 digits |
/// | `X` | `Z`, `UTC`, `GMT` or an offset: `+01`, `+0100`, `+01:00` |
/// | `z` | a zone name (`Europe/Berlin`, `UTC`) |
/// | `'text'` | letters as they are (`'T'`); `''` is a quote |
/// | `[ … ]` | an optional part: read when it is there |
///
/// Any other character is itself. `iso8601` names the layout `yyyy-MM-dd[['T'][ ]HH:mm[:ss][.S]][ ][X]`:
/// RFC 3339 and what exports write around it (a space for the `T`, no seconds, any fraction, `Z`,
/// offsets, ` UTC`).
///
/// A parsed time is ``Parsed``: canonical local text `YYYY-MM-DD HH:MM:SS[.f…]` and the zone it is
/// in, when the text says so. A time with an offset is turned into UTC here; local times are
/// converted by PostgreSQL (`AT TIME ZONE`), DST included.
struct DateFormat: Sendable {
    indirect enum Part: Sendable {
        case year(digits: Int), month(digits: Int), monthName, day(digits: Int)
        case hour(digits: Int, twelve: Bool), minute, second, fraction, meridiem
        case offset, zoneName
        case literal([UInt8])
        case optional([Part])
    }

    /// The pattern as written.
    let pattern: String
    let parts: [Part]

    static let iso8601 = "yyyy-MM-dd[['T'][ ]HH:mm[:ss][.S]][ ][X]"

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(_ written: String) throws(Invalid) {
        pattern = written
        let source = written.lowercased() == "iso8601" || written.lowercased() == "iso 8601" ? Self.iso8601 : written
        var bytes = Array(source.utf8)[...]
        parts = try Self.parse(&bytes, nested: false)
        guard Self.contains(parts, where: { if case .year = $0 { true } else { false } }) else {
            throw Invalid(description: "date_format '\(written)' has no year (yyyy)")
        }
        let twelve = Self.contains(parts) { if case .hour(_, true) = $0 { true } else { false } }
        let meridiem = Self.contains(parts) { if case .meridiem = $0 { true } else { false } }
        guard twelve == meridiem else {
            throw Invalid(description: "date_format '\(written)': a 12-hour clock (hh, h) needs an AM/PM marker (a), and a needs hh or h")
        }
    }

    private static func contains(_ parts: [Part], where test: (Part) -> Bool) -> Bool {
        parts.contains { part in
            if case .optional(let inner) = part { return contains(inner, where: test) }
            return test(part)
        }
    }

    private static func parse(_ bytes: inout ArraySlice<UInt8>, nested: Bool) throws(Invalid) -> [Part] {
        var parts: [Part] = []
        func literal(_ byte: UInt8) {
            if case .literal(let previous) = parts.last {
                parts[parts.count - 1] = .literal(previous + [byte])
            } else {
                parts.append(.literal([byte]))
            }
        }
        while let first = bytes.first {
            var run = 0
            while run < bytes.count, bytes[bytes.startIndex + run] == first { run += 1 }
            let letter = (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A)
            if letter {
                let part: Part
                switch (first, run) {
                case (UInt8(ascii: "y"), 4): part = .year(digits: 4)
                case (UInt8(ascii: "y"), 2): part = .year(digits: 2)
                case (UInt8(ascii: "M"), 1...2): part = .month(digits: run)
                case (UInt8(ascii: "M"), 3...4): part = .monthName
                case (UInt8(ascii: "d"), 1...2): part = .day(digits: run)
                case (UInt8(ascii: "H"), 1...2): part = .hour(digits: run, twelve: false)
                case (UInt8(ascii: "h"), 1...2): part = .hour(digits: run, twelve: true)
                case (UInt8(ascii: "m"), 2): part = .minute
                case (UInt8(ascii: "s"), 2): part = .second
                case (UInt8(ascii: "S"), 1...9): part = .fraction
                case (UInt8(ascii: "a"), 1): part = .meridiem
                case (UInt8(ascii: "X"), 1...3), (UInt8(ascii: "Z"), 1...3): part = .offset
                case (UInt8(ascii: "z"), 1...4): part = .zoneName
                default:
                    throw Invalid(description: "date_format: '\(String(repeating: Character(UnicodeScalar(first)), count: run))' is not a pattern letter (yyyy yy MM M MMM dd d HH H hh h a mm ss S X z; quote other letters: 'T')")
                }
                parts.append(part)
                bytes = bytes.dropFirst(run)
                continue
            }
            switch first {
            case UInt8(ascii: "'"):
                bytes = bytes.dropFirst()
                if bytes.first == UInt8(ascii: "'") {
                    literal(UInt8(ascii: "'"))
                    bytes = bytes.dropFirst()
                    continue
                }
                guard let close = bytes.firstIndex(of: UInt8(ascii: "'")) else { throw Invalid(description: "date_format: a quote (') is not closed") }
                for byte in bytes[..<close] { literal(byte) }
                bytes = bytes[(close + 1)...]
            case UInt8(ascii: "["):
                bytes = bytes.dropFirst()
                let inner = try parse(&bytes, nested: true)
                guard !inner.isEmpty else { throw Invalid(description: "date_format: an empty optional part []") }
                parts.append(.optional(inner))
            case UInt8(ascii: "]"):
                guard nested else { throw Invalid(description: "date_format: ']' without '['") }
                bytes = bytes.dropFirst()
                return parts
            default:
                literal(first)
                bytes = bytes.dropFirst()
            }
        }
        guard !nested else { throw Invalid(description: "date_format: '[' is not closed") }
        return parts
    }

    /// A time read from text.
    struct Parsed: Sendable, Equatable {
        /// `YYYY-MM-DD HH:MM:SS[.f…]`, in ``zone``.
        var local: String
        /// The zone the text named (`UTC` after an offset), or nil: the profile's or the row's.
        var zone: String?
    }

    /// The fields read so far.
    private struct Fields {
        var year = -1, month = 1, day = 1, hour = 0, minute = 0, second = 0
        var twelveHour = false, pm: Bool?
        var fraction: ArraySlice<UInt8> = []
        var offsetMinutes: Int?
        var zone: String?
    }

    /// The time `text` holds, or nil when it does not follow the layout or is not a real date
    /// (30 February, hour 25).
    func parse(_ text: ArraySlice<UInt8>) -> Parsed? {
        var fields = Fields()
        var index = text.startIndex
        guard Self.read(parts, text, &index, &fields), index == text.endIndex else { return nil }
        var hour = fields.hour
        if fields.twelveHour {
            guard (1...12).contains(hour), let pm = fields.pm else { return nil }
            hour = hour % 12 + (pm ? 12 : 0)
        }
        guard (1970...9999).contains(fields.year), (1...12).contains(fields.month), hour < 24, fields.minute < 60, fields.second < 60 else { return nil }
        guard (1...Self.days(inMonth: fields.month, of: fields.year)).contains(fields.day) else { return nil }
        var (year, month, day, minute) = (fields.year, fields.month, fields.day, fields.minute)
        var zone = fields.zone
        if let offset = fields.offsetMinutes, offset != 0 {
            // Local time minus the offset is UTC.
            var minutes = Timestamp.daysFromCivil(year, month, day) * 1440 + hour * 60 + minute - offset
            let dayNumber = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440
            minutes -= dayNumber * 1440
            (year, month, day) = Timestamp.civil(fromDays: dayNumber)
            (hour, minute) = (minutes / 60, minutes % 60)
            guard (1970...9999).contains(year) else { return nil }
        }
        if fields.offsetMinutes != nil { zone = "UTC" }
        var result = [UInt8]()
        result.reserveCapacity(19 + 1 + fields.fraction.count)
        func put(_ value: Int, _ width: Int) {
            var digits = [UInt8](repeating: 0x30, count: width)
            var rest = value
            for position in stride(from: width - 1, through: 0, by: -1) {
                digits[position] = UInt8(0x30 + rest % 10)
                rest /= 10
            }
            result += digits
        }
        put(year, 4); result.append(UInt8(ascii: "-")); put(month, 2); result.append(UInt8(ascii: "-")); put(day, 2)
        result.append(UInt8(ascii: " "))
        put(hour, 2); result.append(UInt8(ascii: ":")); put(minute, 2); result.append(UInt8(ascii: ":")); put(fields.second, 2)
        if !fields.fraction.isEmpty {
            result.append(UInt8(ascii: "."))
            result += fields.fraction
        }
        return Parsed(local: String(decoding: result, as: UTF8.self), zone: zone)
    }

    private static func read(_ parts: [Part], _ text: ArraySlice<UInt8>, _ index: inout Int, _ fields: inout Fields) -> Bool {
        func digits(min: Int, max: Int) -> Int? {
            var value = 0, count = 0
            while count < max, index < text.endIndex, text[index] >= 0x30, text[index] <= 0x39 {
                value = value * 10 + Int(text[index] - 0x30)
                index += 1
                count += 1
            }
            return count >= min ? value : nil
        }
        for part in parts {
            switch part {
            case .year(let width):
                guard let value = digits(min: width, max: width) else { return false }
                fields.year = width == 2 ? 2000 + value : value
            case .month(let width):
                guard let value = digits(min: width == 1 ? 1 : 2, max: 2) else { return false }
                fields.month = value
            case .monthName:
                guard let value = monthName(text, &index) else { return false }
                fields.month = value
            case .day(let width):
                guard let value = digits(min: width == 1 ? 1 : 2, max: 2) else { return false }
                fields.day = value
            case .hour(let width, let twelve):
                guard let value = digits(min: width == 1 ? 1 : 2, max: 2) else { return false }
                fields.hour = value
                fields.twelveHour = twelve
            case .minute:
                guard let value = digits(min: 2, max: 2) else { return false }
                fields.minute = value
            case .second:
                guard let value = digits(min: 2, max: 2) else { return false }
                fields.second = value
            case .fraction:
                let start = index
                guard digits(min: 1, max: 9) != nil else { return false }
                fields.fraction = text[start..<index]
            case .meridiem:
                guard let pm = meridiem(text, &index) else { return false }
                fields.pm = pm
            case .offset:
                guard let minutes = offset(text, &index) else { return false }
                fields.offsetMinutes = minutes
            case .zoneName:
                let start = index
                while index < text.endIndex, Self.isZoneByte(text[index]) { index += 1 }
                guard index > start, let name = String(validating: text[start..<index], as: UTF8.self), ZoneNames.isKnown(name) else { return false }
                fields.zone = name
            case .literal(let bytes):
                guard text.endIndex - index >= bytes.count, text[index..<(index + bytes.count)].elementsEqual(bytes) else { return false }
                index += bytes.count
            case .optional(let inner):
                let (savedIndex, savedFields) = (index, fields)
                if !read(inner, text, &index, &fields) {
                    (index, fields) = (savedIndex, savedFields)
                }
            }
        }
        return true
    }

    private static func isZoneByte(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let fullMonths = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    /// A month's full English name or its first three letters (`Sept` too), any case.
    private static func monthName(_ text: ArraySlice<UInt8>, _ index: inout Int) -> Int? {
        var end = index
        while end < text.endIndex, (text[end] | 0x20) >= 0x61, (text[end] | 0x20) <= 0x7A { end += 1 }
        guard end - index >= 3, end - index <= 9 else { return nil }
        let word = String(decoding: text[index..<end].map { $0 | 0x20 }, as: UTF8.self)
        let found = fullMonths.firstIndex(of: word) ?? months.firstIndex(of: word) ?? (word == "sept" ? 8 : nil)
        guard let found else { return nil }
        index = end
        return found + 1
    }

    /// `AM`, `PM`, `a.m.`, `p.m.`, any case: true for PM.
    private static func meridiem(_ text: ArraySlice<UInt8>, _ index: inout Int) -> Bool? {
        guard index < text.endIndex else { return nil }
        let first = text[index] | 0x20
        guard first == UInt8(ascii: "a") || first == UInt8(ascii: "p") else { return nil }
        var at = index + 1
        if at < text.endIndex, text[at] == UInt8(ascii: ".") { at += 1 }
        guard at < text.endIndex, text[at] | 0x20 == UInt8(ascii: "m") else { return nil }
        at += 1
        if at < text.endIndex, text[at] == UInt8(ascii: "."), at - index == 3 { at += 1 }
        index = at
        return first == UInt8(ascii: "p")
    }

    /// `Z`, `UTC`, `GMT`, `+01`, `+0100`, `+01:00`, `-05:00`: minutes east of UTC.
    private static func offset(_ text: ArraySlice<UInt8>, _ index: inout Int) -> Int? {
        guard index < text.endIndex else { return nil }
        for name in ["UTC", "GMT"] where text.endIndex - index >= 3 && text[index..<(index + 3)].elementsEqual(name.utf8) {
            index += 3
            return 0
        }
        let first = text[index]
        if first == UInt8(ascii: "Z") || first == UInt8(ascii: "z") {
            index += 1
            return 0
        }
        guard first == UInt8(ascii: "+") || first == UInt8(ascii: "-") else { return nil }
        var at = index + 1
        func two() -> Int? {
            guard text.endIndex - at >= 2, text[at] >= 0x30, text[at] <= 0x39, text[at + 1] >= 0x30, text[at + 1] <= 0x39 else { return nil }
            defer { at += 2 }
            return Int(text[at] - 0x30) * 10 + Int(text[at + 1] - 0x30)
        }
        guard let hours = two(), hours <= 18 else { return nil }
        var minutes = 0
        let colon = at < text.endIndex && text[at] == UInt8(ascii: ":")
        if colon { at += 1 }
        if let value = two() {
            guard value < 60 else { return nil }
            minutes = value
        } else if colon {
            return nil
        }
        index = at
        let total = hours * 60 + minutes
        return first == UInt8(ascii: "-") ? -total : total
    }

    static func days(inMonth month: Int, of year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }
}
