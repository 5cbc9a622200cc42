import ArgumentParser
import FerryQueue
import FerryRedis
import FerryScheduler
import FerryWorker
import Foundation
import Logging

/// `ferry scheduler`: enqueue cron entries on time.
struct SchedulerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run the cron scheduler for schedules/*.yml.",
        discussion: """
            Run any number of schedulers on any number of hosts: each tick of each entry is enqueued
            exactly once. Refuses to start if a schedules file is invalid. SIGTERM or SIGINT stops it.
            """
    )

    @Option(help: "Directory of schedules/*.yml files.")
    var schedules: String = "schedules"

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    func run() throws {
        let environment = FerryEnvironment()
        environment.bootstrapLogging()
        let registry = try environment.registry(jobsDirectory: jobsDir)
        let entries = try FerryApplication.current.schedules(directory: schedules, knownTypes: Set(registry.types))
        let dispatcher = Dispatcher(redis: try environment.redisPool(), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        let scheduler = Scheduler(entries: entries, dispatcher: dispatcher, logger: Logger(label: "ferry.scheduler"))
        SignalWatcher.start { signal in
            if signal != .toggleQuiet { scheduler.stop() }
        }
        scheduler.run()
    }
}

/// `ferry schedules`: what the scheduler will do, and when.
struct Schedules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List cron entries with their next fire times, or check the files.",
        discussion: """
            Shows each entry's next fire times in its own time zone and its last fire (from Redis).
            --from and --count show the fires after any instant, to check a DST night before it comes.
            --check validates every file and exits non-zero on an error.
            """
    )

    @Option(help: "Directory of schedules/*.yml files.")
    var schedules: String = "schedules"

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    @Flag(help: "Validate the files and exit: non-zero, naming file, entry and problem, if any is invalid.")
    var check = false

    @Option(help: "Show fires after this instant (ISO 8601) instead of now.")
    var from: String?

    @Option(help: "How many fire times to show per entry.")
    var count: Int = 3

    func run() throws {
        let environment = FerryEnvironment()
        let registry = try environment.registry(jobsDirectory: jobsDir)
        let entries: [ScheduleEntry]
        do {
            entries = try FerryApplication.current.schedules(directory: schedules, knownTypes: Set(registry.types))
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        if check {
            print("\(entries.count) entries OK (\(entries.filter(\.enabled).count) enabled)")
            return
        }
        var start = Date()
        if let from {
            guard let parsed = try? Date(from, strategy: .iso8601) else {
                throw ValidationError("--from must be an ISO 8601 instant like 2026-03-29T00:00:00Z")
            }
            start = parsed
        }
        let dispatcher = Dispatcher(redis: try environment.redisPool(), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        for entry in entries {
            var style = Date.ISO8601FormatStyle(timeZone: entry.schedule.timeZone)
            style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
            let fires = entry.schedule.next(count, after: start).map { $0.formatted(style) }
            let last: String
            do {
                last = try dispatcher.lastTick(entry: entry.name, queue: entry.queue ?? dispatcher.defaultQueue(for: entry.jobType))
                    .map { $0.formatted(style) } ?? "never"
            } catch {
                last = "unknown (\(error))"
            }
            print("\(entry.name)\(entry.enabled ? "" : " (disabled)")  [\(entry.file)]")
            print("  \(entry.schedule.expression) \(entry.timeZoneName) → \(entry.jobType)\(entry.queue.map { " on \($0)" } ?? "")  missed: \(entry.missed.rawValue)")
            print("  next: \(fires.joined(separator: ", "))")
            print("  last: \(last)")
        }
    }
}
