import ArgumentParser

/// The `ferry` command: run workers, schedulers and the admin endpoint, enqueue and inspect jobs.
@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Ferry — reliable background jobs for server-side Swift, on Redis.",
        discussion: """
            Configuration comes from the environment: FERRY_REDIS_URL, DATABASE_URL, FERRY_NAMESPACE, \
            FERRY_ADMIN_ADDR, FERRY_ADMIN_TOKEN, SMTP_URL, ANTHROPIC_API_KEY, FERRY_LOG_LEVEL, FERRY_LOG_FORMAT. \
            See README.md.
            """,
        version: FerryVersion.current,
        subcommands: [Up.self, Worker.self, SchedulerCommand.self, Admin.self, Enqueue.self, JobCommand.self, BatchCommand.self, Stats.self, Dead.self, Jobs.self, Schedules.self, Queue.self, Migrate.self, Email.self, Imports.self, Claude.self, Anonymize.self, Check.self]
    )
}

enum FerryVersion {
    static let current = "0.1.0"
}
