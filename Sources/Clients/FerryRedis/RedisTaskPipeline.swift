import Synchronization

/// Automatic pipelining for tasks that one thread runs together: each task's commands are
/// buffered and the task suspends; once every task is waiting, the thread that drives them calls
/// ``flush()``, which sends everything in one write, reads the replies and resumes each task with
/// its own. Many jobs' commands cost one round trip, and no thread sleeps or wakes per job.
///
/// The driving thread marks the span in which it will flush (``begin()`` … ``end()``). A call
/// made outside that span — from a task the driver does not run, or between two spans — would
/// wait for a flush that may never come, so it runs at once over `fallback` instead (the
/// process's shared connection) and still gets its replies.
///
/// Not for blocking or state-changing commands (see ``RedisMultiplexer``): they are refused
/// before anything is sent.
public final class RedisTaskPipeline: RedisPipelining {
    private struct Waiting {
        let expected: Int
        let continuation: UnsafeContinuation<Result<[RedisReply], RedisError>, Never>
    }

    private struct State {
        var outgoing: [UInt8] = []
        var waiting: [Waiting] = []
        var active = false
    }

    private let state = Mutex(State())
    /// Used by the driving thread only (in ``flush()``), never while another flush runs.
    private let connection: Mutex<RedisConnection?> = Mutex(nil)
    private let wake: @Sendable () -> Void
    /// Where calls made outside a span go.
    public let fallback: RedisMultiplexer
    public let configuration: RedisConfiguration

    /// - Parameters:
    ///   - fallback: the shared connection for calls outside a flushing span.
    ///   - wake: called when a command is buffered, so a driver waiting for its tasks notices
    ///     that it has something to flush (called with no lock held).
    public init(configuration: RedisConfiguration, fallback: RedisMultiplexer, wake: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.fallback = fallback
        self.wake = wake
    }

    /// Sends the commands with those of the other tasks, contiguous on the wire, and returns
    /// their replies in order, error replies in place.
    public nonisolated(nonsending) func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        for arguments in commands {
            if let refused = RedisMultiplexer.unshareable(arguments) { throw .notShareable(command: refused) }
        }
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<[RedisReply], RedisError>, Never>) in
            let buffered = state.withLock { state -> Bool in
                guard state.active else { return false }
                for arguments in commands {
                    state.outgoing.appendRESPHeader(UInt8(ascii: "*"), arguments.count)
                    for argument in arguments { argument.appendBulk(to: &state.outgoing) }
                }
                state.waiting.append(Waiting(expected: commands.count, continuation: continuation))
                return true
            }
            if buffered {
                wake()
            } else {
                continuation.resume(returning: Result { () throws(RedisError) in try fallback.pipeline(commands) })
            }
        }
        return try result.get()
    }

    /// Whether commands wait for ``flush()``.
    public var hasPending: Bool { state.withLock { !$0.waiting.isEmpty } }

    /// Starts a span: from now on calls wait for ``flush()``.
    public func begin() {
        state.withLock { $0.active = true }
    }

    /// Ends the span, flushing what is still buffered: later calls go to the fallback.
    public func end() {
        state.withLock { $0.active = false }
        while hasPending { flush() }
    }

    /// Writes every buffered command at once, reads all their replies and resumes the tasks that
    /// sent them (with the replies, or with the error when the connection failed: then whether
    /// their commands ran is unknown, as with any connection, and the next flush reconnects).
    /// Call it from the driving thread, with no task of its own running.
    public func flush() {
        let (bytes, waiting) = state.withLock { state in
            defer {
                state.outgoing = []
                state.waiting = []
            }
            return (state.outgoing, state.waiting)
        }
        guard !waiting.isEmpty else { return }
        let outcome: Result<[RedisReply], RedisError> = connection.withLock { held in
            Result { () throws(RedisError) -> [RedisReply] in
                let connection: RedisConnection
                if let held { connection = held } else { connection = try RedisConnection(configuration: configuration) }
                held = connection
                do throws(RedisError) {
                    try connection.open()
                    try connection.write(bytes)
                    let expected = waiting.reduce(0) { $0 + $1.expected }
                    var replies: [RedisReply] = []
                    replies.reserveCapacity(expected)
                    while replies.count < expected { replies += try connection.readReplies() }
                    return replies
                } catch {
                    connection.close()
                    throw error
                }
            }
        }
        switch outcome {
        case .success(let replies):
            var next = 0
            for call in waiting {
                call.continuation.resume(returning: .success(Array(replies[next..<(next + call.expected)])))
                next += call.expected
            }
        case .failure(let error):
            for call in waiting { call.continuation.resume(returning: .failure(error)) }
        }
    }
}
