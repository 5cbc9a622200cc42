public import FerryQueue

/// How a worker process runs.
public struct WorkerOptions: Sendable {
    public var queues: QueueSelection
    /// Jobs run at once, each on its own job thread.
    public var concurrency: Int
    /// Most jobs one job thread takes per fetch. The batch grows from 1 while jobs finish quickly
    /// and falls back to 1 when they are slow, so quick jobs are batched and slow ones not hoarded.
    public var prefetch: Int
    /// How long SIGTERM waits for running jobs before putting them back.
    public var shutdownTimeout: Duration
    public var heartbeatInterval: Duration
    /// A worker whose heartbeat is older than this is dead; its jobs are recovered.
    public var heartbeatTTL: Duration
    /// After this many crashes of its process while it ran alone, a job goes dead.
    public var crashLimit: Int
    /// How long one blocking fetch waits when every queue is empty.
    public var pollInterval: Duration
    /// How long a job may ignore cancellation after its timeout before the process is recycled.
    public var timeoutGrace: Duration
    /// How many dead jobs each queue keeps, and for how long.
    public var deadSet: DeadSetPolicy
    /// Stop (draining as on SIGTERM) when the parent process goes away: set for the processes a
    /// ``Supervisor`` starts, so that a supervisor killed outright leaves no worker behind.
    public var stopWhenOrphaned: Bool
    /// The supervisor's process id, as it passed it: with ``stopWhenOrphaned``, a parent other
    /// than this one means the supervisor is gone — even when it died before this process began
    /// (then the parent seen at start is already another).
    public var supervisorPID: Int32?

    public init(
        queues: QueueSelection, concurrency: Int = 10, prefetch: Int = 64, shutdownTimeout: Duration = .seconds(25),
        heartbeatInterval: Duration = .seconds(5), heartbeatTTL: Duration = .seconds(30), crashLimit: Int = 3,
        pollInterval: Duration = .seconds(1), timeoutGrace: Duration = .seconds(10), deadSet: DeadSetPolicy = DeadSetPolicy(),
        stopWhenOrphaned: Bool = false, supervisorPID: Int32? = nil
    ) {
        self.queues = queues
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.shutdownTimeout = shutdownTimeout
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTTL = heartbeatTTL
        self.crashLimit = crashLimit
        self.pollInterval = pollInterval
        self.timeoutGrace = timeoutGrace
        self.deadSet = deadSet
        self.stopWhenOrphaned = stopWhenOrphaned
        self.supervisorPID = supervisorPID
    }
}
