import FerryQueue
import Foundation
import Yams

/// Reads `schedules/*.yml`. Each file maps entry names to entries:
///
/// ```yaml
/// stories-expire:
///   cron: "* * * * *"          # 5 fields, or 6 with seconds first; @hourly, @daily, …
///   timezone: Europe/Berlin    # IANA name; default UTC
///   job: stories.expire
///   args: {batch_size: 1000}   # default {}
///   queue: maintenance         # default: the job type's queue
///   enabled: true              # default true
///   missed: skip               # or run_once: what to do about ticks missed while no scheduler ran
/// ```
public enum ScheduleFile {
    /// Loads every `.yml`/`.yaml` file of `directory`. `knownTypes`, when given, must contain the
    /// job type of every enabled entry. Throws every problem found, not just the first.
    public static func load(directory: String, knownTypes: Set<String>? = nil) throws(ScheduleErrors) -> [ScheduleEntry] {
        var errors: [ScheduleFileError] = []
        var entries: [ScheduleEntry] = []
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted()
        } catch {
            throw ScheduleErrors(errors: [ScheduleFileError(file: directory, message: "cannot read the schedules directory: \(error.localizedDescription)")])
        }
        for name in names {
            let path = directory + "/" + name
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                let (fileEntries, fileErrors) = parse(yaml: text, file: path, knownTypes: knownTypes)
                entries += fileEntries
                errors += fileErrors
            } catch {
                errors.append(ScheduleFileError(file: path, message: "cannot be read: \(error.localizedDescription)"))
            }
        }
        var seen: [String: String] = [:]
        for entry in entries {
            if let other = seen[entry.name] {
                errors.append(ScheduleFileError(file: entry.file, entry: entry.name, message: "the name is already used in \(other)"))
            }
            seen[entry.name] = entry.file
        }
        guard errors.isEmpty else { throw ScheduleErrors(errors: errors) }
        return entries
    }

    /// Parses one file's text; returns the valid entries and the problems.
    public static func parse(yaml text: String, file: String, knownTypes: Set<String>? = nil) -> ([ScheduleEntry], [ScheduleFileError]) {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            return ([], [ScheduleFileError(file: file, message: "is not valid YAML: \(error)")])
        }
        guard let root else { return ([], []) }
        guard let map = root as? [String: Any] else {
            return ([], [ScheduleFileError(file: file, message: "must map entry names to entries")])
        }
        var entries: [ScheduleEntry] = []
        var errors: [ScheduleFileError] = []
        for name in map.keys.sorted() {
            func fail(_ message: String) { errors.append(ScheduleFileError(file: file, entry: name, message: message)) }
            guard let fields = map[name] as? [String: Any] else { fail("must be a map with cron and job"); continue }
            let allowed: Set<String> = ["cron", "timezone", "job", "args", "queue", "enabled", "missed"]
            let unknown = Set(fields.keys).subtracting(allowed).sorted()
            for key in unknown {
                fail("unknown setting '\(key)' (\(allowed.sorted().joined(separator: ", ")))")
            }
            guard unknown.isEmpty else { continue }
            guard let cron = fields["cron"] as? String else { fail("cron is missing (like \"*/5 * * * *\")"); continue }
            let expression: CronExpression
            do { expression = try CronExpression(cron) } catch { fail(error.description); continue }
            let zoneName = (fields["timezone"] as? String) ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else { fail("unknown time zone '\(zoneName)' (use an IANA name like Europe/Berlin)"); continue }
            guard let job = fields["job"] as? String, !job.isEmpty else { fail("job is missing (the job type to enqueue)"); continue }
            let enabled = (fields["enabled"] as? Bool) ?? true
            if fields["enabled"] != nil, fields["enabled"] as? Bool == nil { fail("enabled must be true or false"); continue }
            if enabled, let knownTypes, !knownTypes.contains(job) {
                fail("job type '\(job)' has no handler in this build (known: \(knownTypes.sorted().joined(separator: ", "))); disable the entry until it exists")
                continue
            }
            var args = JSONValue.object([:])
            if let raw = fields["args"] {
                guard let object = raw as? [String: Any] else { fail("args must be a map"); continue }
                args = JSONValue(parsed: object)
            }
            let queue = fields["queue"] as? String
            if fields["queue"] != nil, queue == nil { fail("queue must be a name"); continue }
            let missedText = (fields["missed"] as? String) ?? "skip"
            guard let missed = ScheduleEntry.MissedTicks(rawValue: missedText) else { fail("missed must be skip or run_once, not '\(missedText)'"); continue }
            entries.append(ScheduleEntry(
                name: name, file: file, schedule: CronSchedule(expression: expression, timeZone: zone), timeZoneName: zoneName, jobType: job,
                args: args, queue: queue, enabled: enabled, missed: missed
            ))
        }
        return (entries, errors)
    }

    /// `defaults` (an app's job families' own entries) with `overrides` (the schedules files)
    /// laid over them: a file's entry replaces the default of the same name — to turn a default
    /// off, write it with `enabled: false` — and the files' other entries are added.
    public static func merge(defaults: [ScheduleEntry], overrides: [ScheduleEntry]) -> [ScheduleEntry] {
        let replaced = Set(overrides.map(\.name))
        return defaults.filter { !replaced.contains($0.name) } + overrides
    }
}
