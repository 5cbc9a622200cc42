import FerryScheduler
import Foundation
import Testing

@Suite struct CronTests {
    static func date(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    /// (expression, zone, after, the next fires expected, as UTC instants)
    static let table: [(String, String, String, [String])] = [
        ("0 0 * * *", "UTC", "2026-11-24T10:00:00Z", ["2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"]),
        ("*/15 * * * *", "UTC", "2026-11-24T10:07:00Z", ["2026-11-24T10:15:00Z", "2026-11-24T10:30:00Z"]),
        ("*/10 * * * * *", "UTC", "2026-11-24T10:00:05Z", ["2026-11-24T10:00:10Z", "2026-11-24T10:00:20Z"]),
        ("0 9 * * MON-FRI", "Europe/Berlin", "2026-11-27T10:00:00Z", ["2026-11-30T08:00:00Z", "2026-12-01T08:00:00Z"]),
        ("0 12 29 2 *", "UTC", "2026-03-01T00:00:00Z", ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]),
        ("0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", ["2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"]),
        ("0 0 28-31 2 *", "UTC", "2027-02-27T00:00:00Z", ["2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"]),
        // Vixie: both day fields restricted → either matches (Monday 30 Nov, then Tuesday 1 Dec).
        ("0 0 1 * MON", "UTC", "2026-11-24T00:00:00Z", ["2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z"]),
        // Only one restricted → it alone decides.
        ("0 0 1 * *", "UTC", "2026-11-24T00:00:00Z", ["2026-12-01T00:00:00Z"]),
        // A field starting with '*' counts as unrestricted (as in Vixie cron), so both must match:
        // the 1st, 11th, 21st or 31st that is a Monday.
        ("0 0 */10 * MON", "UTC", "2026-11-24T00:00:00Z", ["2026-12-21T00:00:00Z", "2027-01-11T00:00:00Z"]),
        ("30 4 1,15 JAN,JUL *", "UTC", "2026-06-20T00:00:00Z", ["2026-07-01T04:30:00Z", "2026-07-15T04:30:00Z", "2027-01-01T04:30:00Z"]),
        ("0 0 * * 7", "UTC", "2026-11-24T00:00:00Z", ["2026-11-29T00:00:00Z"]),
        ("@yearly", "UTC", "2026-11-24T00:00:00Z", ["2027-01-01T00:00:00Z"]),
        ("@weekly", "UTC", "2026-11-24T00:00:00Z", ["2026-11-29T00:00:00Z"]),
        ("@hourly", "UTC", "2026-11-24T10:59:59Z", ["2026-11-24T11:00:00Z"]),
        ("@monthly", "America/New_York", "2026-11-24T00:00:00Z", ["2026-12-01T05:00:00Z"]),
        // Europe/Berlin springs forward on 29 March 2026 (02:00 CET → 03:00 CEST, 01:00Z):
        // 02:30 does not exist that day and runs once, when the clocks jump.
        ("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        // ... and falls back on 25 October (03:00 CEST → 02:00 CET, 01:00Z): 02:30 happens twice, runs once.
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        // An hourly entry runs in both passes of the repeated hour: that day has 25 hours.
        ("0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z", ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"]),
        ("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:10:00Z", ["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"]),
        // America/New_York: 8 March 2026 02:00 EST → 03:00 EDT (07:00Z); 1 November 02:00 EDT → 01:00 EST (06:00Z).
        ("30 2 * * *", "America/New_York", "2026-03-06T12:00:00Z", ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
    ]

    @Test(arguments: table)
    func nextFireTimes(expression: String, zone: String, after: String, expected: [String]) throws {
        let schedule = CronSchedule(expression: try CronExpression(expression), timeZone: TimeZone(identifier: zone)!)
        let fires = schedule.next(expected.count, after: Self.date(after))
        #expect(fires == expected.map(Self.date), "\(expression) in \(zone) after \(after): \(fires.map { $0.formatted(.iso8601) })")
    }

    @Test func aDailyEntryRunsOncePerDayAcrossBothDSTChanges() throws {
        for (zone, year) in [("Europe/Berlin", 2026), ("America/New_York", 2026)] {
            let schedule = CronSchedule(expression: try CronExpression("30 2 * * *"), timeZone: TimeZone(identifier: zone)!)
            let start = Self.date("\(year)-01-01T12:00:00Z")
            let fires = schedule.next(365, after: start)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            let days = fires.map { calendar.dateComponents([.year, .month, .day], from: $0) }
            #expect(Set(days).count == 365, "\(zone): a day ran twice or not at all")
        }
    }

    @Test(arguments: [
        ("61 * * * *", "minute '61' is not in 0–59"),
        ("* * * *", "expected 5 fields"),
        ("@fortnightly", "unknown shorthand"),
        ("0 0 31 2 *", "never occurs"),
        ("*/0 * * * *", "must be a positive number"),
        ("0 0 * * FUNDAY", "day of week 'FUNDAY'"),
        ("5-1 * * * *", "goes backwards"),
    ])
    func invalidExpressionsSayWhy(expression: String, reason: String) {
        do {
            _ = try CronExpression(expression)
            Issue.record("accepted \(expression)")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test func scheduleFilesReportFileEntryAndProblem() {
        let (entries, errors) = ScheduleFile.parse(yaml: """
            good:
              cron: "*/5 * * * *"
              timezone: Europe/Berlin
              job: ferry.noop
              args: {a: 1}
              missed: run_once
            bad-zone:
              cron: "* * * * *"
              timezone: Mars/Olympus
              job: ferry.noop
            unknown-type:
              cron: "* * * * *"
              job: does.not.exist
            disabled-unknown:
              cron: "* * * * *"
              job: does.not.exist
              enabled: false
            typo:
              cron: "* * * * *"
              job: ferry.noop
              misssed: skip
            """, file: "schedules/x.yml", knownTypes: ["ferry.noop"])
        #expect(Set(entries.map(\.name)) == ["good", "disabled-unknown"])
        #expect(entries.first { $0.name == "good" }?.missed == .runOnce)
        let text = errors.map(\.description).joined(separator: "\n")
        #expect(text.contains("schedules/x.yml: entry 'bad-zone': unknown time zone 'Mars/Olympus'"), "\(text)")
        #expect(text.contains("schedules/x.yml: entry 'unknown-type': job type 'does.not.exist' has no handler"), "\(text)")
        #expect(text.contains("schedules/x.yml: entry 'typo': unknown setting 'misssed'"), "\(text)")
    }
}
