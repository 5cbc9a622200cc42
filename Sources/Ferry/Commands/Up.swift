import ArgumentParser
import FerryEmbedded
import FerryPostgres
import FerryQueue
import FerryScheduler
import FerrySupport
import FerryWorker
import Foundation
import Logging
import ServiceLifecycle

/// `ferry up`: everything on one machine, in one service group.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Ferry on this machine: Redis and PostgreSQL if none is configured, the worker pool, scheduler and admin endpoint.",
        discussion: """
            Without FERRY_REDIS_URL / DATABASE_URL it starts Redis and PostgreSQL as child processes on \
            127.0.0.1 (ports --redis-port and --postgres-port) with generated passwords and their data \
            in --data (the layout ops/services uses, so `ops/services env` prints their URLs). It applies \
            the migrations, checks the schedules, then runs the scheduler, the admin endpoint \
            (FERRY_ADMIN_ADDR; without FERRY_ADMIN_TOKEN a token is generated into <data>/secrets/admin.token \
            and a one-time dashboard login link is printed) and the worker pool. SIGTERM or SIGINT \
            (Ctrl-C) shuts down in order: workers drain, then the admin endpoint and the scheduler stop, \
            then PostgreSQL and Redis.
            """
    )

    @Option(help: "Worker processes to run (default: one per core).")
    var processes: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Jobs run at once by each worker process.")
    var concurrency: Int = 10

    @Option(help: "Queues to take jobs from, as name:weight,…")
    var queues: String = "critical:5,default:3,mail:3,claude:3,imports:2,anonymize:2,maintenance:2,low:1"

    @Option(help: "Seconds running jobs get to finish after SIGTERM.")
    var shutdownTimeout: Double = 25

    @Option(help: "Directory for the embedded servers' data, logs and secrets.")
    var data: String = ProcessInfo.processInfo.environment["FERRY_SERVICES_DIR"] ?? ".ferry/services"

    @Option(help: "Port of the embedded Redis.")
    var redisPort: Int = Int(ProcessInfo.processInfo.environment["FERRY_REDIS_PORT"] ?? "") ?? 6380

    @Option(help: "Port of the embedded PostgreSQL.")
    var postgresPort: Int = Int(ProcessInfo.processInfo.environment["FERRY_PG_PORT"] ?? "") ?? 5433

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    @Option(help: "Directory of schedules/*.yml files.")
    var schedules: String = "schedules"

    @Option(help: "Celery queues whose task messages the workers take in, comma-separated (see ferry worker). Default: FERRY_CELERY_QUEUES, else none.")
    var celeryQueues: String?

    func validate() throws {
        guard (1...256).contains(processes) else { throw ValidationError("--processes must be between 1 and 256") }
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1000") }
        if let celeryQueues { _ = try Worker.celeryQueueNames(celeryQueues) }
        guard Duration(checkedSeconds: shutdownTimeout, maximum: 86_400) != nil else {
            throw ValidationError("--shutdown-timeout must be between 0 and 86400 seconds")
        }
        guard (1...65_535).contains(redisPort), (1...65_535).contains(postgresPort) else {
            throw ValidationError("--redis-port and --postgres-port must be between 1 and 65535")
        }
        _ = try QueueSelection(parsing: queues, strict: false)
    }

    func run() throws {
        var environment = FerryEnvironment()
        environment.bootstrapLogging()
        let logger = Logger(label: "ferry.up")
        let directory = try DataDirectory(path: data)

        // Embedded servers first: everything else needs them answering.
        var embedded: [EmbeddedServer] = []
        if environment.values["FERRY_REDIS_URL"].map(\.isEmpty) ?? true {
            let redis = try EmbeddedRedis.start(in: directory, port: redisPort, logger: logger)
            embedded.append(redis)
            environment = environment.setting("FERRY_REDIS_URL", to: redis.url)
        }
        if environment.databaseURL == nil {
            let postgres: EmbeddedServer
            do {
                postgres = try EmbeddedPostgres.start(in: directory, port: postgresPort, logger: logger)
            } catch {
                embedded.forEach { $0.stop() }
                throw error
            }
            embedded.append(postgres)
            environment = environment.setting("DATABASE_URL", to: postgres.url)
        }
        do {
            try runServices(environment: environment, directory: directory, embedded: embedded, logger: logger)
        } catch {
            // A failure before the group ran leaves the servers to stop here (the group stops them otherwise).
            embedded.reversed().forEach { $0.stop() }
            throw error
        }
    }

    private func runServices(environment: FerryEnvironment, directory: DataDirectory, embedded: [EmbeddedServer], logger: Logger) throws {
        var environment = environment
        if let databaseURL = environment.databaseURL {
            let ran = try FerryApplication.current.migrator.migrate(try PostgresConnection(url: databaseURL))
            logger.info("schema up to date", metadata: ["applied_now": "\(ran.count)", "migrations": "\(FerryApplication.current.migrator.migrations.count)"])
        }
        let registry = try environment.registry(jobsDirectory: jobsDir)
        let entries = try FerryApplication.current.schedules(directory: schedules, knownTypes: Set(registry.types))
        let generatedToken = environment.values["FERRY_ADMIN_TOKEN"].map(\.isEmpty) ?? true
        if generatedToken {
            environment = environment.setting("FERRY_ADMIN_TOKEN", to: try directory.secret("admin.token"))
        }
        // Keys for the anonymizer's hash and encrypt operators, generated once (0600) unless given;
        // set before the worker processes start, which inherit them.
        for (variable, file) in [("FERRY_ANONYMIZE_HASH_KEY", "anonymize-hash.key"), ("FERRY_ANONYMIZE_AES_KEY", "anonymize-aes.key")]
        where environment.values[variable].map(\.isEmpty) ?? true {
            let key = try directory.secret(file)
            setenv(variable, key, 1)
            environment = environment.setting(variable, to: key)
        }
        let admin = try Admin.server(environment: environment, registry: registry, schedules: schedules, headerTimeout: 10, maxConnections: 512)
        let dispatcher = Dispatcher(redis: try environment.redisPool(), keys: environment.keys, defaults: { registry.enqueueDefaults(for: $0) })
        let scheduler = SchedulerService(Scheduler(entries: entries, dispatcher: dispatcher, logger: Logger(label: "ferry.scheduler")))
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let workerArguments = [
            "worker", "--concurrency", "\(concurrency)", "--queues", queues, "--shutdown-timeout", "\(shutdownTimeout)", "--jobs-dir", jobsDir,
        ] + (celeryQueues.map { ["--celery-queues", $0] } ?? [])
        let pool = WorkerPool(
            processes: processes, childCommand: { worker in [executable] + workerArguments + ["--child", "--worker-id", worker, "--supervisor-pid", String(getpid())] },
            keys: environment.keys, redis: try environment.redisConfiguration(), crashLimit: 3,
            shutdownTimeout: Duration(checkedSeconds: shutdownTimeout) ?? .seconds(25), logger: Logger(label: "ferry.supervisor")
        )

        let address = environment.values["FERRY_ADMIN_ADDR"] ?? "127.0.0.1:7480"
        let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        if generatedToken {
            say("admin API token: in \(directory.path)/secrets/admin.token (send it as Authorization: Bearer …)")
        }
        if let link = admin.makeLoginLink() {
            // On the terminal of the person who started Ferry, not in the structured log.
            say("dashboard login link (valid once, for 15 minutes): \(link)")
        }
        say("Ferry is up: admin on http://\(address)/, \(processes) worker process\(processes == 1 ? "" : "es") × \(concurrency), \(entries.count) schedules. Ctrl-C stops everything.")

        // Started in this order, stopped in reverse: workers drain first, the servers stop last.
        let services: [any Service] = embedded + [scheduler, admin, pool]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try waitForAsync { try await group.run() }
    }
}
