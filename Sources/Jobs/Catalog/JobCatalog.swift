public import FerryRedis
public import FerryWorker
import FerryHTTP
import FerryPostgres

/// Every job family this build of Ferry runs, and the clients they use. Adding a family means a
/// folder beside this one, a line in ``register(in:testJobs:)`` and its `jobs/<type>.yml`; a new
/// client, a ``JobServiceKey`` and a line in ``services(redis:environment:concurrency:)``.
public enum JobCatalog {
    /// Registers every job type.
    /// - Parameter testJobs: also allow the built-in jobs that harm their worker on purpose.
    public static func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try BuiltinJobs.register(in: &registry, testJobs: testJobs)
        try registry.register(StoryExpiry())
        try registry.register(MiningRewards())
        try registry.register(AnalyticsRollup())
        try registry.register(EmailSend())
        try registry.register(EmailUnsuppress())
        try registry.register(NotificationsDigest())
        try registry.register(TradesImport())
        try registry.register(ClaudeMessage())
        try registry.register(ClaudeBatch())
        try registry.register(AnonymizeBatch())
        try registry.register(AnonymizeChunk())
        try registry.register(AnonymizeFinish())
    }

    /// The clients of one worker process, configured from `environment` (DATABASE_URL, SMTP_URL,
    /// ANTHROPIC_API_KEY).
    public static func services(redis: RedisClient, environment: [String: String], concurrency: Int) throws -> JobServices {
        var services = JobServices(redis: redis)
        // One kept-alive connection per job thread at most, so concurrent API calls reuse theirs.
        let http = FerryHTTPClient(keepAliveHandles: max(8, concurrency))
        services.provide(HTTPService.self, http)
        if let claude = MessagesAPI(environment: environment, http: http) {
            services.provide(ClaudeService.self, claude)
        }
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            // Jobs hold a connection for their queries, not for their whole run (except imports):
            // past 20 threads a process shares 20 connections rather than open one per thread
            // (PostgreSQL allows 100 by default, for every process of the fleet together).
            services.provide(PostgresService.self, PostgresConnectionPool(configuration: try PostgresConfiguration(url: url), capacity: min(concurrency, 20)))
        }
        if let url = environment["SMTP_URL"], !url.isEmpty {
            services.provide(SMTPService.self, try SMTPClient(url: url))
        }
        return services
    }
}
