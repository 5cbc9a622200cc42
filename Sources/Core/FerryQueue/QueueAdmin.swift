/// Everything admins see and repair (the CLI's `stats` and `dead`, the admin endpoint), as the
/// sets it is made of — like Sidekiq's API: each is a small value of its own, usable alone.
public struct QueueAdmin: Sendable {
    public let keys: QueueKeyspace
    /// Queue names, sizes, clearing.
    public var queues: Queues { Queues(keys: keys) }
    /// Pausing and resuming.
    public var paused: PausedQueues { PausedQueues(keys: keys) }
    /// Delayed jobs and retries.
    public var scheduled: ScheduledSet { ScheduledSet(keys: keys) }
    /// Dead jobs.
    public var dead: DeadSet { DeadSet(keys: keys) }
    /// Finding a job by id.
    public var locator: JobLocator { JobLocator(keys: keys) }

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }
}
