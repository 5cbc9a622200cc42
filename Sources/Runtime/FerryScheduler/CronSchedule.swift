public import Foundation
import FerrySupport

/// Fire times of a cron expression in a time zone.
///
/// Times are matched on the zone's wall clock, then turned into instants:
/// - a wall time that does not exist (the hour skipped when clocks spring forward) fires once, at
///   the instant the clocks jump: a daily 02:30 entry runs at 03:00 on that day;
/// - a wall time that happens twice (the hour repeated when clocks fall back) fires once, the first
///   time — unless the entry runs every hour, which then runs in both passes, as the hours are real.
public struct CronSchedule: Sendable, Equatable {
    public let expression: CronExpression
    public let timeZone: TimeZone

    public init(expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// The first fire time strictly after `date`, or nil if none within eight years.
    public func next(after date: Date) -> Date? {
        let instant = Int64(date.timeIntervalSince1970.rounded(.down))
        // Fast path, almost always taken: with no change of the zone's offset from three hours
        // before `date` (a repeated hour) up to the next match, wall times and instants map one
        // to one, and the first matching wall time after `date` is the answer.
        let offset = Int64(timeZone.secondsFromGMT(for: date))
        if let wall = nextWall(from: WallTime(epoch: instant + offset + 1)) {
            let fire = wall.epoch - offset
            let transition = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(instant - 3 * 3600)))
            if transition.map({ Int64($0.timeIntervalSince1970.rounded(.up)) > fire }) ?? true {
                return Date(timeIntervalSince1970: Double(fire))
            }
        }
        return nextAcrossTransitions(after: instant)
    }

    /// The slow path of ``next(after:)``, for the days the zone's offset changes: every wall time
    /// from a little before `instant` is matched and turned into its 0, 1 or 2 instants.
    private func nextAcrossTransitions(after instant: Int64) -> Date? {
        let date = Date(timeIntervalSince1970: Double(instant))
        // Start a little before `date` on the wall clock, so times in a repeated hour are seen.
        var wall = WallTime(epoch: instant + Int64(timeZone.secondsFromGMT(for: date)) - 3 * 3600)
        var best: Int64?
        let limit = wall.epoch + 8 * 366 * 86400
        while let candidate = nextWall(from: wall), candidate.epoch < limit {
            for fire in instants(of: candidate) where fire > instant {
                if best == nil || fire < best! { best = fire }
            }
            if let best, candidate.epoch - 3 * 3600 > best + Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(best)))) {
                break
            }
            wall = WallTime(epoch: candidate.epoch + 1)
        }
        return best.map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// The next `count` fire times after `date`.
    public func next(_ count: Int, after date: Date) -> [Date] {
        var result: [Date] = []
        var cursor = date
        while result.count < count, let fire = next(after: cursor) {
            result.append(fire)
            cursor = fire
        }
        return result
    }

    /// The latest fire time at or before `date` and after `floor`, if any.
    public func previous(atOrBefore date: Date, notBefore floor: Date) -> Date? {
        var cursor = floor.addingTimeInterval(-1)
        var latest: Date?
        while let fire = next(after: cursor), fire <= date {
            latest = fire
            cursor = fire
        }
        return latest
    }

    /// The instants at which the wall time `wall` happens in the zone (0, 1 or 2 of them), as fire times.
    private func instants(of wall: WallTime) -> [Int64] {
        let before = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall.epoch - 86400))))
        let after = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall.epoch + 86400))))
        var valid: [Int64] = []
        for offset in Set([before, after]).sorted(by: >) {
            let instant = wall.epoch - offset
            if Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))) == offset {
                valid.append(instant)
            }
        }
        valid.sort()
        if valid.isEmpty {
            // Skipped by a spring-forward jump: fire when the clocks jump.
            let jump = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(wall.epoch - before - 6 * 3600)))
            return jump.map { [Int64($0.timeIntervalSince1970)] } ?? [wall.epoch - before]
        }
        if valid.count == 2, !expression.everyHour { return [valid[0]] }
        return valid
    }

    /// The first wall time at or after `start` that matches every field.
    private func nextWall(from start: WallTime) -> WallTime? {
        var time = start
        let end = start.epoch + 8 * 366 * 86400
        while time.epoch < end {
            let parts = time.parts
            if !expression.months.contains(parts.month) {
                time = WallTime(year: parts.year, month: parts.month + 1, day: 1)
                continue
            }
            if !expression.matchesDay(day: parts.day, weekday: parts.weekday) {
                time = WallTime(epoch: (time.epoch / 86400 + 1) * 86400)
                continue
            }
            if !expression.hours.contains(parts.hour) {
                time = WallTime(epoch: (time.epoch / 3600 + 1) * 3600)
                continue
            }
            if !expression.minutes.contains(parts.minute) {
                time = WallTime(epoch: (time.epoch / 60 + 1) * 60)
                continue
            }
            if !expression.seconds.contains(parts.second) {
                time = WallTime(epoch: time.epoch + 1)
                continue
            }
            return time
        }
        return nil
    }
}

/// A wall-clock time, counted as seconds since 1970 as if the zone were UTC.
struct WallTime {
    let epoch: Int64

    init(epoch: Int64) { self.epoch = epoch }

    init(year: Int, month: Int, day: Int) {
        var (y, m) = (year, month)
        if m > 12 { (y, m) = (y + 1, 1) }
        epoch = Int64(Self.daysFromCivil(y, m, day)) * 86400
    }

    var parts: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int) {
        let days = Int(epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400)
        let seconds = Int(epoch - Int64(days) * 86400)
        let (year, month, day) = Self.civil(fromDays: days)
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        return (year, month, day, seconds / 3600, seconds % 3600 / 60, seconds % 60, weekday)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (``Timestamp/daysFromCivil(_:_:_:)``).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int { Timestamp.daysFromCivil(year, month, day) }

    static func civil(fromDays days: Int) -> (Int, Int, Int) { Timestamp.civil(fromDays: days) }
}
