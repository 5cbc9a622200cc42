public import FerryProcess
import Foundation
import Logging
public import ServiceLifecycle

/// A server that `ferry up` runs as a child process (Redis, PostgreSQL), as a swift-service-lifecycle
/// `Service`: it is started, and answering, before the service group runs; the service watches it
/// and stops it on graceful shutdown. Put it first in the group so that it stops last, after the
/// workers, scheduler and admin endpoint that use it.
///
/// A server that was already running when Ferry looked (started by `ops/services`, say) is used
/// but not owned: it is neither watched nor stopped.
public struct EmbeddedServer: Service {
    /// "Redis" or "PostgreSQL", for messages.
    public let name: String
    /// The URL clients use, password included: hand it to the other services, never to a log.
    public let url: String
    /// The child process, nil when the server was already running.
    public let process: ChildProcess?
    /// The signal that stops the server quickly and cleanly (SIGTERM for Redis, SIGINT — "fast
    /// shutdown" — for PostgreSQL).
    let stopSignal: Int32
    let logger: Logger

    public func run() async throws {
        guard let process else {
            try? await gracefulShutdown()
            return
        }
        defer { stop() }
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if let status = process.waitForExit(timeout: 0) {
                        throw EmbeddedError.exited(name, status: status, log: process.logPath)
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        } catch is CancellationError {
            // Graceful shutdown or the group's cancellation: stop the server (deferred).
        }
    }

    /// Stops the server and waits for it (30 s, then SIGKILL).
    public func stop() {
        guard let process, process.waitForExit(timeout: 0) == nil else { return }
        logger.info("stopping the embedded \(name)")
        process.signal(stopSignal)
        if process.waitForExit(timeout: 30) == nil {
            logger.error("the embedded \(name) did not stop within 30 s; killing it")
            process.signal(SIGKILL)
            process.waitForExit(timeout: 5)
        }
    }

    /// A command prefix that makes the server receive `signal` when `ferry up` dies, even by
    /// SIGKILL, so that no server is left running without its owner (`setpriv --pdeathsig`; the
    /// signal is tied to the thread that starts the server, which for `ferry up` is the main one).
    static func parentDeath(_ signal: String) -> [String] {
        FileManager.default.isExecutableFile(atPath: setpriv) ? [setpriv, "--pdeathsig", signal, "--"] : []
    }

    static let setpriv = "/usr/bin/setpriv"

    /// Polls `ready` every 100 ms until it holds, the process exits, or `timeout` passes.
    static func wait(for name: String, process: ChildProcess, timeout: Duration, ready: () -> Bool) throws(EmbeddedError) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if ready() { return }
            if let status = process.waitForExit(timeout: 0) { throw .exited(name, status: status, log: process.logPath) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.signal(SIGKILL)
        process.waitForExit(timeout: 5)
        throw .didNotStart(name, log: process.logPath)
    }
}
