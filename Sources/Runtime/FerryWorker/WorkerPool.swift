import FerryLifecycle
import Foundation
public import FerryQueue
public import FerryRedis
public import Logging
public import ServiceLifecycle

/// The worker pool of one host as a swift-service-lifecycle `Service`: a ``Supervisor`` that runs
/// worker processes (`childCommand`), replaces any that dies and recovers its jobs at once, and on
/// graceful shutdown passes SIGTERM on and waits for every process to drain.
public struct WorkerPool: Service {
    package let supervisor: Supervisor

    /// - Parameters:
    ///   - processes: worker processes to keep running.
    ///   - childCommand: the command line of one worker process, given the worker id it must use.
    ///   - shutdownTimeout: what each process gives its running jobs after SIGTERM; the pool kills
    ///     processes that have not exited 10 s after that.
    public init(
        processes: Int, childCommand: @escaping @Sendable (String) -> [String], keys: QueueKeyspace, redis: RedisConfiguration,
        crashLimit: Int, shutdownTimeout: Duration, logger: Logger
    ) {
        supervisor = Supervisor(
            processes: processes, childCommand: childCommand, stopTimeout: shutdownTimeout + .seconds(10), logger: logger,
            recoverWorker: { worker in
                let connection = try RedisConnection(configuration: redis)
                // Jobs it finished without acknowledging them yet are done, not to be run again.
                let notes = AckLedger.read(worker: worker)
                let recovery = try WorkerRegistry(keys: keys).recover(
                    worker: worker, crashLimit: crashLimit, deadSet: DeadSetPolicy(), notes: notes, on: connection)
                AckLedger.discard(worker: worker)
                return "restored \(recovery.restored), dead \(recovery.buried), finished before the exit \(notes.finished.count)"
            }
        )
    }

    public func run() async throws {
        let supervisor = supervisor
        try await BlockingService(
            name: "ferry.supervisor", body: { _ = supervisor.run() }, stop: { supervisor.forward(SIGTERM) }
        ).run()
    }
}
