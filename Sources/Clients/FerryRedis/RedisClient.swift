public import FerryConnectionPool

/// Redis for code that many threads run at once, such as job handlers: ordinary commands go
/// over one shared connection with automatic pipelining (``RedisMultiplexer``: the commands of
/// concurrent callers share one write and one read), and ``withConnection(_:)`` lends a
/// connection of one's own for what cannot share one — blocking commands, `WATCH`/`MULTI`
/// across calls, `SUBSCRIBE`.
///
/// ```swift
/// try context.services.redis.pipeline([["SADD", "seen", .string(id)], ["INCR", "runs"]])
/// let next = try context.services.redis.withConnection { try $0.blockingCommand(["BLPOP", "inbox", "1"], blockFor: .seconds(1)) }
/// ```
///
/// From async code, `try await redis.pipeline(…)` suspends the task instead of its thread: in
/// an async job the worker runs many such jobs together on one thread and sends all their
/// commands in one write (``RedisTaskPipeline``); elsewhere the commands go through the client's
/// I/O thread (``RedisAsyncConnection``).
public final class RedisClient: RedisPipelining {
    /// The shared, automatically pipelined connection.
    public let shared: RedisMultiplexer
    /// Connections lent one at a time.
    public let pool: RedisConnectionPool
    /// Where async calls of a worker loop's tasks go; nil sends them over ``asynchronous``.
    public let tasks: RedisTaskPipeline?
    /// Where other async calls go: its I/O thread starts with the first one.
    public let asynchronous: RedisAsyncConnection

    /// A client of the server of `configuration`, lending up to `poolCapacity` connections of
    /// one's own. Connects on first use.
    public init(configuration: RedisConfiguration, poolCapacity: Int) {
        shared = RedisMultiplexer(configuration: configuration)
        pool = RedisConnectionPool(configuration: configuration, capacity: poolCapacity)
        tasks = nil
        asynchronous = RedisAsyncConnection(configuration: configuration)
    }

    private init(shared: RedisMultiplexer, pool: RedisConnectionPool, tasks: RedisTaskPipeline?, asynchronous: RedisAsyncConnection) {
        self.shared = shared
        self.pool = pool
        self.tasks = tasks
        self.asynchronous = asynchronous
    }

    /// This client with its async calls sent through `tasks` (blocking calls still share
    /// ``shared``, and the pool is the same).
    public func pipelining(through tasks: RedisTaskPipeline) -> RedisClient {
        RedisClient(shared: shared, pool: pool, tasks: tasks, asynchronous: asynchronous)
    }

    /// Runs one command over the shared connection; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: RedisArgument...) throws(RedisError) -> RedisReply {
        try shared.command(arguments)
    }

    /// Runs one command over the shared connection; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
        try shared.command(arguments)
    }

    /// Sends the commands together over the shared connection and returns their replies in
    /// order, error replies in place.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        try shared.pipeline(commands)
    }

    /// Runs a Lua script over the shared connection (EVALSHA, loading it when needed).
    @discardableResult
    public func run(_ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = []) throws(RedisError) -> RedisReply {
        try shared.run(script, keys: keys, arguments: arguments)
    }

    /// Sends the commands together with those of the other jobs the same thread runs, and
    /// returns their replies in order, error replies in place; suspends the calling task, not its thread.
    public nonisolated(nonsending) func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        if let tasks { return try await tasks.pipeline(commands) }
        return try await asynchronous.pipeline(commands)
    }

    /// Runs one command, suspending the calling task; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public nonisolated(nonsending) func command(_ arguments: RedisArgument...) async throws(RedisError) -> RedisReply {
        try await pipeline([arguments])[0].check()
    }


    /// Lends a connection of one's own to `body` for the duration of the call.
    @discardableResult
    public func withConnection<Result>(_ body: (RedisConnection) throws -> Result) throws -> Result {
        try pool.withConnection(body)
    }
}
