import FerryQueue
package import Logging
import FerryProcess
import Foundation
import Synchronization

/// Runs N worker processes and keeps them running: a child that exits or crashes is replaced
/// (with a growing delay if it keeps crashing). SIGTERM/SIGINT are passed on and the supervisor
/// waits for the children to drain; SIGTSTP is passed on (quiet mode).
///
/// The supervisor names each child's worker id, so when a child dies it recovers that worker's
/// jobs at once instead of waiting for its heartbeat to expire (``recoverWorker``; retried while
/// Redis does not answer).
package final class Supervisor: @unchecked Sendable {
    // @unchecked Sendable: `exits` and `stopNoticed` are touched under `events` only.
    public let processes: Int
    /// The command line of one child, given the worker id it is to use.
    public let childCommand: @Sendable (String) -> [String]
    /// Recovers the in-flight jobs of a child that died (returns a description for the log).
    public let recoverWorker: @Sendable (String) throws -> String
    /// How long to wait for children after passing on SIGTERM before killing them.
    public let stopTimeout: Duration
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let children = Mutex<[pid_t: (index: Int, worker: String)]>([:])
    /// Signalled when a child exits (its waiter thread appends to `exits`) and when a stop is asked for.
    private let events = NSCondition()
    /// Exits handed over by the waiter threads; under `events`.
    private nonisolated(unsafe) var exits: [(pid: pid_t, status: Int32)] = []
    /// Whether the loop has seen the stop (so it waits for exits and the deadline after it); under `events`.
    private nonisolated(unsafe) var stopNoticed = false

    public init(
        processes: Int, childCommand: @escaping @Sendable (String) -> [String], stopTimeout: Duration, logger: Logger,
        recoverWorker: @escaping @Sendable (String) throws -> String
    ) {
        self.processes = processes
        self.childCommand = childCommand
        self.recoverWorker = recoverWorker
        self.stopTimeout = stopTimeout
        self.logger = logger
    }

    /// Passes `signal` to every child; SIGTERM and SIGINT also stop the supervisor.
    public func forward(_ signal: Int32) {
        if signal == SIGTERM || signal == SIGINT {
            stopping.store(true, ordering: .sequentiallyConsistent)
            events.lock()
            events.broadcast()
            events.unlock()
        }
        for pid in children.withLock({ Array($0.keys) }) { kill(pid, signal) }
    }

    /// Runs until stopped and every child has exited. Returns the exit code for the supervisor.
    ///
    /// Waits, never polls: each child has a thread blocked in `waitpid` on it (only its own
    /// children: in `ferry up` the same process also runs embedded servers), which hands the
    /// exit to this loop; the loop sleeps until an exit, a stop, a restart that is due, a
    /// recovery to retry or the stop deadline. A crashing child's restart delay is a due time,
    /// not a sleep, so a stop during it is served at once.
    public func run() -> Int32 {
        var restarts = [Int](repeating: 0, count: processes)
        var dueRestarts: [(index: Int, at: ContinuousClock.Instant)] = []
        for index in 0..<processes { spawn(index: index) }
        var stopDeadline: ContinuousClock.Instant?
        var toRecover: [String] = []
        var nextRecoveryTry = ContinuousClock.now
        while true {
            for (pid, status) in takeExits() {
                guard let (index, worker) = children.withLock({ $0.removeValue(forKey: pid) }) else { continue }
                let description = Self.describe(status)
                // Whatever the child left in flight goes back now (nothing, after a clean stop).
                toRecover.append(worker)
                recover(&toRecover, retryAt: &nextRecoveryTry, force: true)
                if stopping.load(ordering: .relaxed) {
                    logger.info("worker process exited", metadata: ["pid": "\(pid)", "status": "\(description)"])
                } else {
                    let recycled = Spawn.exitCode(ofStatus: status) == WorkerProcess.Exit.recycle.rawValue
                    if !recycled { restarts[index] += 1 }
                    let delay = recycled ? 0 : min(0.1 * pow(2, Double(min(restarts[index], 6))), 5)
                    logger.warning("worker process exited; starting a new one", metadata: [
                        "pid": "\(pid)", "status": "\(description)", "restart_in_s": "\(delay)",
                    ])
                    dueRestarts.append((index, .now + .milliseconds(Int64(delay * 1000))))
                }
            }
            if stopping.load(ordering: .relaxed) {
                dueRestarts.removeAll()
            } else {
                let now = ContinuousClock.now
                for restart in dueRestarts where restart.at <= now { spawn(index: restart.index) }
                dueRestarts.removeAll { $0.at <= now }
            }
            if !toRecover.isEmpty, ContinuousClock.now >= nextRecoveryTry { recover(&toRecover, retryAt: &nextRecoveryTry, force: false) }
            if stopping.load(ordering: .relaxed) {
                if children.withLock({ $0.isEmpty }) {
                    if !toRecover.isEmpty {
                        logger.warning("could not recover the jobs of exited worker processes; other workers will once their heartbeats expire",
                                       metadata: ["workers": "\(toRecover.joined(separator: ","))"])
                    }
                    return 0
                }
                let deadline = stopDeadline ?? (.now + stopTimeout)
                stopDeadline = deadline
                if ContinuousClock.now > deadline {
                    logger.error("worker processes did not stop in time; killing them")
                    forward(SIGKILL)
                    stopDeadline = .now + .seconds(5)
                }
            }
            var wakeAt = dueRestarts.map(\.at).min()
            if !toRecover.isEmpty { wakeAt = min(wakeAt ?? nextRecoveryTry, nextRecoveryTry) }
            if let stopDeadline { wakeAt = min(wakeAt ?? stopDeadline, stopDeadline) }
            waitForEvent(until: wakeAt)
        }
    }

    /// The exits the waiter threads handed over since the last call.
    private func takeExits() -> [(pid: pid_t, status: Int32)] {
        events.lock()
        defer { events.unlock() }
        let taken = exits
        exits.removeAll()
        return taken
    }

    /// Sleeps until a child exits, a stop is asked for, or `deadline` (nil: no deadline).
    private func waitForEvent(until deadline: ContinuousClock.Instant?) {
        events.lock()
        defer { events.unlock() }
        // A stop asked for (or an exit handed over) before the lock was taken is seen here.
        guard exits.isEmpty, !(stopping.load(ordering: .relaxed) && stopNoticed == false) else {
            stopNoticed = stopping.load(ordering: .relaxed)
            return
        }
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining > .zero { _ = events.wait(until: Date(timeIntervalSinceNow: remaining.secondsValue)) }
        } else {
            events.wait()
        }
        stopNoticed = stopping.load(ordering: .relaxed)
    }

    /// Blocks a thread of its own in `waitpid` on `pid` and hands its exit status to the loop.
    private func watch(_ pid: pid_t) {
        let thread = Thread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            events.lock()
            exits.append((pid, status))
            events.broadcast()
            events.unlock()
        }
        thread.name = "ferry-waitpid-\(pid)"
        thread.start()
    }

    private func recover(_ workers: inout [String], retryAt: inout ContinuousClock.Instant, force: Bool) {
        guard force || ContinuousClock.now >= retryAt else { return }
        while let worker = workers.first {
            do {
                let summary = try recoverWorker(worker)
                logger.info("recovered the jobs of an exited worker process", metadata: ["worker": "\(worker)", "result": "\(summary)"])
                workers.removeFirst()
            } catch {
                logger.error("cannot recover the jobs of an exited worker process yet; retrying", metadata: [
                    "worker": "\(worker)", "error": "\(error)",
                ])
                retryAt = ContinuousClock.now + .seconds(1)
                return
            }
        }
    }

    private func spawn(index: Int) {
        guard !stopping.load(ordering: .sequentiallyConsistent) else { return }
        let worker = WorkerInfo.newID()
        let pid: pid_t
        do {
            pid = try Spawn.run(childCommand(worker))
        } catch {
            logger.error("cannot start a worker process", metadata: ["error": "\(error)"])
            return
        }
        children.withLock { $0[pid] = (index, worker) }
        watch(pid)
        // A stop that came while this child was being started did not reach it.
        if stopping.load(ordering: .sequentiallyConsistent) { kill(pid, SIGTERM) }
        logger.info("worker process started", metadata: ["pid": "\(pid)", "index": "\(index)", "worker": "\(worker)"])
    }

    static func describe(_ status: Int32) -> String {
        let code = Spawn.exitCode(ofStatus: status)
        return code < 128 ? "exit \(code)" : "killed by signal \(code - 128)"
    }
}
