public import ArgumentParser
public import Ferry
public import FerryPostgres
public import FerryWorker

/// `email.send`, `email.unsuppress` and `notifications.digest` (which reads the analytics
/// family's social tables); `ferry email`.
public struct EmailFamily: JobFamily {
    public let name = "email"
    public let requires = ["accounts", "analytics"]
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(EmailSend())
        try registry.register(EmailUnsuppress())
        try registry.register(NotificationsDigest())
    }

    public var migrations: [PostgresMigration] { [EmailSchema.migration] }
    public var commands: [any ParsableCommand.Type] { [EmailCommand.self] }

    public var schedules: String {
        """
        notifications-digest:
          cron: "15 * * * *"           # hourly, at minute 15
          timezone: UTC
          job: notifications.digest
          queue: maintenance
          missed: run_once             # the next run covers the users a missed hour would have
        """
    }
}
