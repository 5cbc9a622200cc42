import ArgumentParser
import FerryCelery
import FerryQueue
import FerryRedis
import FerrySupport
import FerryWorker
import Foundation
import Logging

/// `ferry worker`: a supervisor and its worker processes.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run worker processes that execute jobs.",
        discussion: """
            Starts a supervisor that runs --processes worker processes and replaces any that dies.
            Each process runs --concurrency jobs at once, each on its own thread. SIGTERM or SIGINT
            drains: no new jobs are fetched, running jobs get --shutdown-timeout to finish, anything
            unfinished goes back to its queue, and the exit status is 0. SIGTSTP toggles quiet mode
            (keep running, fetch nothing).
            """
    )

    @Option(help: "Worker processes to run.")
    var processes: Int = 1

    @Option(help: "Jobs run at once by each process.")
    var concurrency: Int = 10

    @Option(help: "Queues to take jobs from, as name:weight,… (weights pick how often each is tried first). Default: every queue the registered job types use, and default, each of weight 1.")
    var queues: String?

    @Flag(help: "Try queues strictly in the order given instead of by weight.")
    var strict = false

    @Option(help: "Seconds running jobs get to finish after SIGTERM.")
    var shutdownTimeout: Double = 25

    @Option(help: "Most jobs one thread takes per fetch (batches grow only while jobs are quick).")
    var prefetch: Int = 64

    @Option(help: "Seconds between heartbeats.")
    var heartbeat: Double = 5

    @Option(help: "Seconds without a heartbeat after which a worker counts as dead and its jobs are recovered.")
    var heartbeatTTL: Double = 30

    @Option(help: "Crashes with a job in flight after which that job goes to the dead set.")
    var crashLimit: Int = 3

    @Option(help: "Seconds a job may ignore cancellation after its timeout before its process is recycled.")
    var timeoutGrace: Double = 10

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    @Option(help: "Celery queues whose task messages (as Celery's clients write them to this Redis) these workers take in, comma-separated. Default: FERRY_CELERY_QUEUES, else none.")
    var celeryQueues: String?

    @Flag(help: .hidden)
    var child = false

    /// The worker id a supervisor gives its child, so that it can recover the child's jobs.
    @Option(help: .hidden)
    var workerID: String?

    /// The supervisor that started this child: a child that finds another parent (its
    /// supervisor died, even before the child began) stops.
    @Option(name: .customLong("supervisor-pid"), help: .hidden)
    var supervisorPID: Int32?

    func validate() throws {
        guard processes >= 1, processes <= 256 else { throw ValidationError("--processes must be between 1 and 256") }
        guard concurrency >= 1, concurrency <= 1000 else { throw ValidationError("--concurrency must be between 1 and 1000") }
        guard prefetch >= 1, prefetch <= 1000 else { throw ValidationError("--prefetch must be between 1 and 1000") }
        let seconds = [shutdownTimeout, heartbeat, heartbeatTTL, timeoutGrace]
        guard seconds.allSatisfy({ Duration(checkedSeconds: $0, maximum: 86_400) != nil }) else {
            throw ValidationError("--shutdown-timeout, --heartbeat, --heartbeat-ttl and --timeout-grace must be between 0 and 86400 seconds")
        }
        guard heartbeat > 0, heartbeatTTL > heartbeat * 2 else {
            throw ValidationError("--heartbeat-ttl must be more than twice --heartbeat")
        }
        guard shutdownTimeout >= 0, timeoutGrace >= 0, crashLimit >= 1 else {
            throw ValidationError("--shutdown-timeout and --timeout-grace must not be negative; --crash-limit at least 1")
        }
        if let queues { _ = try QueueSelection(parsing: queues, strict: strict) }
        if let celeryQueues { _ = try Self.celeryQueueNames(celeryQueues) }
    }

    /// The Celery queues of `--celery-queues` or FERRY_CELERY_QUEUES, checked.
    static func celeryQueueNames(_ text: String) throws -> [String] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for name in names where !Names.isValid(name) {
            throw ValidationError("Celery queue '\(name)' cannot be taken: its name must be 1 to 100 ASCII letters, digits, '.', '_' or '-' (Ferry keeps its refused messages under that name)")
        }
        return names
    }

    func run() throws {
        let environment = FerryEnvironment()
        environment.bootstrapLogging()
        if child { try runProcess(environment) } else { try supervise(environment) }
    }

    private func supervise(_ environment: FerryEnvironment) throws {
        let logger = Logger(label: "ferry.supervisor")
        // Check the configuration before starting children that would fail the same way.
        _ = try environment.registry(jobsDirectory: jobsDir)
        _ = try RedisConnection(configuration: try environment.redisConfiguration())
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = Array(CommandLine.arguments.dropFirst())
        let supervisor = WorkerPool(
            processes: processes, childCommand: { worker in [executable] + arguments + ["--child", "--worker-id", worker, "--supervisor-pid", String(getpid())] },
            keys: environment.keys, redis: try environment.redisConfiguration(), crashLimit: crashLimit,
            shutdownTimeout: Self.duration(shutdownTimeout), logger: logger
        ).supervisor
        SignalWatcher.start { signal in
            switch signal {
            case .terminate, .interrupt: supervisor.forward(SIGTERM)
            case .toggleQuiet: supervisor.forward(SIGTSTP)
            }
        }
        let code = supervisor.run()
        if code != 0 { throw ExitCode(code) }
    }

    private func runProcess(_ environment: FerryEnvironment) throws {
        let logger = Logger(label: "ferry.worker")
        let registry = try environment.registry(jobsDirectory: jobsDir)
        let redisConfiguration = try environment.redisConfiguration()
        let services = try FerryApplication.current.services(
            redis: RedisClient(configuration: redisConfiguration, poolCapacity: max(2, concurrency / 2)), environment: environment.values,
            concurrency: concurrency
        )
        let options = WorkerOptions(
            queues: try queues.map { try QueueSelection(parsing: $0, strict: strict) } ?? QueueSelection(serving: registry, strict: strict),
            concurrency: concurrency, prefetch: prefetch,
            shutdownTimeout: Self.duration(shutdownTimeout), heartbeatInterval: Self.duration(heartbeat),
            heartbeatTTL: Self.duration(heartbeatTTL), crashLimit: crashLimit, timeoutGrace: Self.duration(timeoutGrace),
            stopWhenOrphaned: child, supervisorPID: child ? supervisorPID : nil
        )
        // Celery: tasks taken from its queues (when asked), and results written for every job that
        // came from one, whichever worker runs it.
        let celeryResults = CeleryResults(
            redis: try environment.values["FERRY_CELERY_RESULTS_URL"].map { try RedisConfiguration(url: $0) } ?? redisConfiguration)
        let celeryQueues = try Self.celeryQueueNames(celeryQueues ?? environment.values["FERRY_CELERY_QUEUES"] ?? "")
        let ingresses: [any JobIngress] = celeryQueues.isEmpty ? [] : [
            try CeleryIngress(
                queues: celeryQueues, tasks: try CeleryTasks(registry: registry), keys: environment.keys, redis: redisConfiguration,
                results: celeryResults, logger: Logger(label: "ferry.celery"))
        ]
        let process = WorkerProcess(
            options: options, keys: environment.keys, redis: redisConfiguration, registry: registry, services: services, logger: logger,
            id: workerID ?? WorkerInfo.newID(), ingresses: ingresses, observers: [celeryResults]
        )
        SignalWatcher.start { signal in
            switch signal {
            case .terminate, .interrupt: process.stop()
            case .toggleQuiet: process.setQuiet(!process.isQuiet)
            }
        }
        let exit = process.run()
        if exit != .stopped { throw ExitCode(exit.rawValue) }
    }

    /// `validate()` has range-checked every seconds option.
    static func duration(_ seconds: Double) -> Duration { Duration(checkedSeconds: seconds) ?? .seconds(1) }
}
