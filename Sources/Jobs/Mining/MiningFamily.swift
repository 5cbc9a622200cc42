public import Ferry
public import FerryPostgres
public import FerryWorker

/// `mining.rewards`: token mining credited to balances.
public struct MiningFamily: JobFamily {
    public let name = "mining"
    public let requires = ["accounts"]
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(MiningRewards())
    }

    public var migrations: [PostgresMigration] { [MiningSchema.migration] }

    public var schedules: String {
        """
        mining-rewards:
          cron: "*/10 * * * *"         # every 10 minutes
          timezone: UTC
          job: mining.rewards
          queue: maintenance
          missed: run_once             # credit once for the time missed; the job pays by elapsed time
        """
    }
}
