public import Ferry
public import FerryWorker

/// The `ferry.*` jobs: smoke tests of a deployment, benchmarks and crash tests (``BuiltinJobs``).
public struct BuiltinFamily: JobFamily {
    public let name = "ferry"
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try BuiltinJobs.register(in: &registry, testJobs: testJobs)
    }

    public var schedules: String {
        """
        smoke-heartbeat:
          cron: "*/5 * * * *"          # a no-op every 5 minutes: proves scheduler and workers are alive
          timezone: UTC
          job: ferry.noop
          queue: low
          missed: skip
        """
    }
}
