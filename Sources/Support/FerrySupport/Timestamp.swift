public import Foundation

/// Reads the ISO 8601 timestamps Ferry meets at its edges — PostgreSQL's text format
/// (`2026-11-24 10:29:10.123456+00`) and RFC 3339 headers (`2026-11-25T01:02:03.5Z`,
/// `…+05:30`) — without a date formatter (making and using one cost a worker 10% of its CPU per
/// API call under `perf`).
public enum Timestamp {
    /// Parses `YYYY-MM-DD[( |T)HH:MM:SS[.fraction]][Z|±HH[:MM[:SS]]]`; a missing offset is UTC.
    /// Out-of-range fields (month 13, hour 25) give nil.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count <= 64 else { return nil }
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 32 || bytes[index] == 84 {
            index += 1
            guard let h = number(2), expect(58), let m = number(2), expect(58), let s = number(2), h < 24, m < 60, s <= 60 else { return nil }
            (hour, minute, second) = (h, m, s)
            if expect(46) {
                var scale = 0.1
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                    fraction += Double(bytes[index] - 48) * scale
                    scale /= 10
                    index += 1
                }
            }
        }
        var offset = 0
        if index < bytes.count {
            if bytes[index] == 90 { index += 1 } else {
                guard bytes[index] == 43 || bytes[index] == 45 else { return nil }
                let sign = bytes[index] == 45 ? -1 : 1
                index += 1
                guard let offsetHours = number(2) else { return nil }
                var offsetMinutes = 0, offsetSeconds = 0
                if expect(58) { guard let m = number(2) else { return nil }; offsetMinutes = m }
                if expect(58) { guard let s = number(2) else { return nil }; offsetSeconds = s }
                offset = sign * (offsetHours * 3600 + offsetMinutes * 60 + offsetSeconds)
            }
        }
        guard index == bytes.count else { return nil }
        let seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01; Howard Hinnant's
    /// "civil from days"), the inverse of ``daysFromCivil(_:_:_:)``.
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's "days from civil").
    public static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
