import Foundation
import Synchronization

/// Redis for async code outside a worker's job loop — an API tier's request handlers, the admin
/// server, a command-line tool: tasks' commands are buffered and the task suspends; one I/O
/// thread of this connection writes everything buffered in one write, reads the replies and
/// resumes each task with its own (``RedisTaskPipeline`` driven by a thread of its own). No task
/// blocks a cooperative thread, and concurrent callers share round trips.
///
/// The thread starts with the first call and stops when the connection is released (a call in
/// flight holds it, so nothing is left waiting). Not for blocking or state-changing
/// commands (see ``RedisMultiplexer``): they are refused before anything is sent.
public final class RedisAsyncConnection: RedisPipelining {
    private let tasks: RedisTaskPipeline
    private let driver: Driver
    public var configuration: RedisConfiguration { tasks.configuration }

    public init(configuration: RedisConfiguration) {
        let driver = Driver()
        self.driver = driver
        tasks = RedisTaskPipeline(
            configuration: configuration, fallback: RedisMultiplexer(configuration: configuration),
            wake: { driver.signal() })
    }

    deinit { driver.stop() }

    public nonisolated(nonsending) func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        driver.startIfNeeded(driving: tasks)
        return try await tasks.pipeline(commands)
    }

    /// The I/O thread's state: it sleeps until a command is buffered or it is told to stop.
    private final class Driver: @unchecked Sendable {
        // @unchecked Sendable: every field but the atomic `started` is touched under `condition` only.
        private let condition = NSCondition()
        private var running = false
        private var stopping = false
        private var signalled = false
        /// Set once the thread runs: calls after the first check it without taking the lock.
        private let started = Atomic<Bool>(false)

        func startIfNeeded(driving tasks: RedisTaskPipeline) {
            guard !started.load(ordering: .acquiring) else { return }
            condition.lock()
            defer { condition.unlock() }
            guard !running else { return }
            running = true
            // Calls wait for this thread's flushes from now on (begun before the first call buffers).
            tasks.begin()
            let thread = Thread { [self] in loop(tasks) }
            thread.name = "ferry-redis-io"
            thread.start()
            // Published after the span has begun, so a call that skips the lock buffers for the thread.
            started.store(true, ordering: .releasing)
        }

        func signal() {
            condition.lock()
            signalled = true
            condition.signal()
            condition.unlock()
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.signal()
            condition.unlock()
        }

        private func loop(_ tasks: RedisTaskPipeline) {
            while true {
                condition.lock()
                while !signalled && !stopping { condition.wait() }
                let stop = stopping
                signalled = false
                condition.unlock()
                // Stopped only once the connection is released: no call can be waiting then.
                if stop { return }
                tasks.flush()
            }
        }
    }
}
