import Foundation

/// A cron expression as people know it: 5 fields (minute hour day-of-month month day-of-week) or
/// 6 with seconds first; `*`, lists, ranges, steps, names (`JAN`, `MON`), `?` for `*`, and the
/// shorthands `@yearly @annually @monthly @weekly @daily @midnight @hourly`.
///
/// When both day-of-month and day-of-week are restricted (neither starts with `*`), a day matches
/// if either does — Vixie cron's rule: `0 0 1 * MON` runs on the 1st and on every Monday.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let source: String
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool
    /// True when every hour matches: in a repeated DST hour such entries fire in both passes.
    let everyHour: Bool

    public var description: String { source }

    public init(_ text: String) throws(CronError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let shorthands = [
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
            "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
        ]
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let value = shorthands[trimmed.lowercased()] else {
                throw CronError(expression: text, reason: "unknown shorthand \(trimmed) (use @yearly, @monthly, @weekly, @daily or @hourly)")
            }
            expanded = value
        } else {
            expanded = trimmed
        }
        var fields = expanded.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw CronError(expression: text, reason: "expected 5 fields (minute hour day month weekday) or 6 with seconds first, found \(fields.count)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        source = text
        seconds = try Self.parse(fields[0], name: "second", range: 0...59, names: [:], expression: text)
        minutes = try Self.parse(fields[1], name: "minute", range: 0...59, names: [:], expression: text)
        hours = try Self.parse(fields[2], name: "hour", range: 0...23, names: [:], expression: text)
        daysOfMonth = try Self.parse(fields[3], name: "day of month", range: 1...31, names: [:], expression: text)
        months = try Self.parse(fields[4], name: "month", range: 1...12, names: Self.monthNames, expression: text)
        let weekdays = try Self.parse(fields[5], name: "day of week", range: 0...7, names: Self.dayNames, expression: text)
        daysOfWeek = Set(weekdays.map { $0 == 7 ? 0 : $0 })
        dayOfMonthRestricted = !fields[3].hasPrefix("*") && fields[3] != "?"
        dayOfWeekRestricted = !fields[5].hasPrefix("*") && fields[5] != "?"
        everyHour = hours.count == 24
        // A day-of-month that no allowed month has (31 in a list of 30-day months) never fires.
        if !dayOfWeekRestricted, let smallest = daysOfMonth.min(),
           months.allSatisfy({ smallest > Self.maxDays(month: $0) }) {
            throw CronError(expression: text, reason: "day \(smallest) never occurs in the months given")
        }
    }

    static let monthNames = ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
    static let dayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]

    static func maxDays(month: Int) -> Int { [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] }

    private static func parse(_ field: String, name: String, range: ClosedRange<Int>, names: [String: Int], expression: String) throws(CronError) -> Set<Int> {
        func value(_ text: Substring) throws(CronError) -> Int {
            if let number = Int(text), range.contains(number) { return number }
            if let named = names[text.uppercased()] { return named }
            throw CronError(expression: expression, reason: "\(name) '\(text)' is not in \(range.lowerBound)–\(range.upperBound)\(names.isEmpty ? "" : " or a name like \(names.keys.sorted().first!)")")
        }
        var result = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw CronError(expression: expression, reason: "empty item in the \(name) field") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw CronError(expression: expression, reason: "\(name) '\(part)' has more than one '/'") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw CronError(expression: expression, reason: "step '\(pieces[1])' in the \(name) field must be a positive number")
                }
                step = parsed
            }
            let base = pieces[0]
            let lower: Int
            var upper: Int
            if base == "*" || base == "?" {
                (lower, upper) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                lower = try value(base[..<dash])
                upper = try value(base[base.index(after: dash)...])
                guard lower <= upper else { throw CronError(expression: expression, reason: "\(name) range '\(base)' goes backwards") }
            } else {
                lower = try value(base)
                upper = pieces.count == 2 ? range.upperBound : lower
            }
            if name == "day of week", upper == 7, range.upperBound == 7, base == "*" { upper = 6 }
            result.formUnion(stride(from: lower, through: upper, by: step))
        }
        return result
    }

    /// Whether the wall-clock day matches, with Vixie's either-or rule.
    func matchesDay(day: Int, weekday: Int) -> Bool {
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return dom || dow }
        return dom && dow
    }
}

/// An invalid cron expression, with what is wrong.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public var expression: String
    public var reason: String
    public var description: String { "invalid cron expression '\(expression)': \(reason)" }
}
