public import Ferry
public import FerryPostgres
public import FerryWorker

/// `analytics.rollup`: trades and social activity rolled up per user and day.
public struct AnalyticsFamily: JobFamily {
    public let name = "analytics"
    public let requires = ["accounts"]
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(AnalyticsRollup())
    }

    public var migrations: [PostgresMigration] { [AnalyticsSchema.trades, AnalyticsSchema.social, AnalyticsSchema.rollups] }

    public var schedules: String {
        """
        analytics-rollup:
          cron: "5 * * * *"            # hourly, at minute 5
          timezone: UTC
          job: analytics.rollup
          queue: low
          missed: run_once             # incremental: one run catches up
        """
    }
}
