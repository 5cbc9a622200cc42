public import Ferry
public import FerryPostgres
public import FerryWorker

/// `stories.expire`: stories past their 24 hours removed with their views and reactions.
public struct StoriesFamily: JobFamily {
    public let name = "stories"
    public let requires = ["accounts"]
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(StoryExpiry())
    }

    public var migrations: [PostgresMigration] { [StoriesSchema.migration] }

    public var schedules: String {
        """
        stories-expire:
          cron: "* * * * *"            # every minute
          timezone: UTC
          job: stories.expire
          queue: maintenance
          missed: skip                 # a missed minute is covered by the next run
        """
    }
}
