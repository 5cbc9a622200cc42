public import FerryQueue
import Foundation

/// One cron entry of `schedules/*.yml`: when, in which zone, which job with which arguments.
public struct ScheduleEntry: Sendable {
    /// What to do about ticks that passed while no scheduler was running.
    public enum MissedTicks: String, Sendable {
        /// Leave them out; carry on with the next tick.
        case skip
        /// Run the entry once for the latest missed tick, however many were missed.
        case runOnce = "run_once"
    }

    public let name: String
    public let file: String
    public let schedule: CronSchedule
    /// The zone as the file names it (`UTC`, `Europe/Berlin`).
    public let timeZoneName: String
    public let jobType: String
    public let args: JSONValue
    /// `nil`: the job type's configured queue.
    public let queue: String?
    public let enabled: Bool
    public let missed: MissedTicks
}

/// A problem in a schedules file, naming the file, the entry and what is wrong.
public struct ScheduleFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var entry: String?
    public var message: String
    public var description: String { entry.map { "\(file): entry '\($0)': \(message)" } ?? "\(file): \(message)" }

    public init(file: String, entry: String? = nil, message: String) {
        self.file = file
        self.entry = entry
        self.message = message
    }
}

/// Every problem found while reading a schedules directory.
public struct ScheduleErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ScheduleFileError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }

    public init(errors: [ScheduleFileError]) { self.errors = errors }
}
