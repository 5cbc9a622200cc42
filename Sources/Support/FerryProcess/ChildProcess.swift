public import Foundation
import Synchronization

/// A program run as a child process, with its output in a log file and signals delivered by pid:
/// the `ferry` binary run by tests and benchmarks, embedded services run by `ferry up`.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let logPath: String
    /// The exit code once reaped; the lock also keeps two threads from reaping at once.
    private let status = Mutex<Int32?>(nil)

    /// Starts `arguments[0]` with `arguments`, adding `environment` to this process's own environment.
    /// Output goes to `logPath`, by default a new file in the temporary directory; see
    /// ``Spawn/run(_:environment:output:ownProcessGroup:)`` for `ownProcessGroup`.
    public init(_ arguments: [String], environment: [String: String] = [:], logPath: String? = nil, ownProcessGroup: Bool = false) throws {
        self.logPath = logPath ?? NSTemporaryDirectory() + "ferry-child-\(UUID().uuidString.prefix(8)).log"
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let child = try Spawn.run(arguments, environment: merged, output: .file(self.logPath), ownProcessGroup: ownProcessGroup)
        pid = child
    }

    deinit {
        if status.withLock({ $0 }) == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    /// Sends `signal`, unless the process has been reaped (its pid may belong to another by then).
    public func signal(_ signal: Int32) {
        status.withLock { if $0 == nil { kill(pid, signal) } }
    }

    /// Waits up to `timeout` seconds; returns the exit code (or 128 + signal), nil if still running.
    @discardableResult
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let code = status.withLock { status -> Int32? in
                if let status { return status }
                var raw: Int32 = 0
                guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
                status = Spawn.exitCode(ofStatus: raw)
                return status
            }
            if let code { return code }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// What the process wrote so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
