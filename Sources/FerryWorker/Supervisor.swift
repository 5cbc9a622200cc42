public import Logging
import Foundation
import Synchronization

/// Runs N worker processes and keeps them running: a child that exits or crashes is replaced
/// (with a growing delay if it keeps crashing). SIGTERM/SIGINT are passed on and the supervisor
/// waits for the children to drain; SIGTSTP is passed on (quiet mode).
public final class Supervisor: Sendable {
    public let processes: Int
    /// The command line of one child: executable path and arguments.
    public let childCommand: [String]
    /// How long to wait for children after passing on SIGTERM before killing them.
    public let stopTimeout: Duration
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let children = Mutex<[pid_t: Int]>([:])

    public init(processes: Int, childCommand: [String], stopTimeout: Duration, logger: Logger) {
        self.processes = processes
        self.childCommand = childCommand
        self.stopTimeout = stopTimeout
        self.logger = logger
    }

    /// Passes `signal` to every child; SIGTERM and SIGINT also stop the supervisor.
    public func forward(_ signal: Int32) {
        if signal == SIGTERM || signal == SIGINT { stopping.store(true, ordering: .sequentiallyConsistent) }
        for pid in children.withLock({ Array($0.keys) }) { kill(pid, signal) }
    }

    /// Runs until stopped and every child has exited. Returns the exit code for the supervisor.
    public func run() -> Int32 {
        var restarts = [Int](repeating: 0, count: processes)
        for index in 0..<processes { spawn(index: index) }
        var stopDeadline: ContinuousClock.Instant?
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0, let index = children.withLock({ $0.removeValue(forKey: pid) }) {
                let description = Self.describe(status)
                if stopping.load(ordering: .relaxed) {
                    logger.info("worker process exited", metadata: ["pid": "\(pid)", "status": "\(description)"])
                } else {
                    let recycled = Self.exitCode(status) == 75
                    if !recycled { restarts[index] += 1 }
                    let delay = recycled ? 0 : min(0.1 * pow(2, Double(min(restarts[index], 6))), 5)
                    logger.warning("worker process exited; starting a new one", metadata: [
                        "pid": "\(pid)", "status": "\(description)", "restart_in_s": "\(delay)",
                    ])
                    if delay > 0 { Thread.sleep(forTimeInterval: delay) }
                    if !stopping.load(ordering: .relaxed) { spawn(index: index) }
                }
                continue
            }
            if stopping.load(ordering: .relaxed) {
                if children.withLock({ $0.isEmpty }) { return 0 }
                let deadline = stopDeadline ?? (.now + stopTimeout)
                stopDeadline = deadline
                if ContinuousClock.now > deadline {
                    logger.error("worker processes did not stop in time; killing them")
                    forward(SIGKILL)
                    stopDeadline = .now + .seconds(5)
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    private func spawn(index: Int) {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The supervisor blocks the signals it watches; a child must start with none blocked and
        // default handlers, or it would never see SIGTERM.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv: [UnsafeMutablePointer<CChar>?] = childCommand.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, childCommand[0], nil, &attributes, &argv, environ)
        guard result == 0 else {
            logger.error("cannot start a worker process", metadata: ["error": "\(String(cString: strerror(result)))"])
            return
        }
        children.withLock { $0[pid] = index }
        logger.info("worker process started", metadata: ["pid": "\(pid)", "index": "\(index)"])
    }

    /// WIFEXITED/WEXITSTATUS are macros Swift does not import: decode the status by hand.
    static func exitCode(_ status: Int32) -> Int32? {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : nil
    }

    static func describe(_ status: Int32) -> String {
        if let code = exitCode(status) { return "exit \(code)" }
        return "killed by signal \(status & 0x7F)"
    }
}
