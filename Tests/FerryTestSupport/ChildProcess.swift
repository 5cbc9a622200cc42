import FerryProcess
public import Foundation

/// A program run by a test (the `ferry` binary, mostly), with its output in a log file and
/// signals delivered by pid.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: owned by one test; `pid` and `status` are only touched by its owner.
    public let pid: pid_t
    public let logPath: String
    private var status: Int32?

    /// Starts `arguments[0]` with `arguments`, adding `environment` to the test's own environment.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        logPath = NSTemporaryDirectory() + "ferry-child-\(UUID().uuidString.prefix(8)).log"
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let child = try Spawn.run(arguments, environment: merged, output: .file(logPath))
        pid = child
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits up to `timeout` seconds; returns the exit code (or 128 + signal), nil if still running.
    @discardableResult
    public func waitForExit(timeout: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let code = Spawn.exitCode(ofStatus: raw)
                status = code
                return code
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// What the process wrote so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
public func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(50_000)
    } while Date() < deadline
    return try condition()
}
