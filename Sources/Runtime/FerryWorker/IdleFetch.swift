import Foundation
import Synchronization

/// Keeps an idle worker process from waking every job thread for each job that arrives.
///
/// One job thread per queue waits in Redis (the blocking fetch: that queue's *watcher*); the
/// other idle ones sleep here. A thread that finds work — a watcher handed a job, or any thread
/// whose fetch came back with jobs — wakes one sleeper, which fetches in turn and, finding jobs,
/// wakes the next: threads come back as fast as the work asks for them, and a burst of 500 jobs
/// wakes the few threads that take it rather than all of them for one job each (a blocking
/// fetch, its crash-suspect lookup and a thread switch per thread). A busy process never sleeps
/// here and pays one atomic load per fetch. Sleepers also wake on their own after the poll
/// interval, and at once when the process stops or goes quiet.
final class IdleFetch: @unchecked Sendable {
    // @unchecked Sendable: `condition` guards `watched` and `permits`; `sleepers` is an atomic.
    private let condition = NSCondition()
    /// Queues a thread waits on in Redis now.
    private var watched: Set<String> = []
    /// Wake-ups given and not yet taken by a sleeper.
    private var permits = 0
    private let sleepers = Atomic<Int>(0)

    /// The first of `queues` nobody watches, now watched by the caller, who waits on it in Redis
    /// and then calls ``resign(_:)``; nil when every one is watched.
    func watch(_ queues: [String]) -> String? {
        condition.lock()
        defer { condition.unlock() }
        guard let queue = queues.first(where: { !watched.contains($0) }) else { return nil }
        watched.insert(queue)
        return queue
    }

    func resign(_ queue: String) {
        condition.lock()
        watched.remove(queue)
        condition.unlock()
    }

    /// Sleeps until another thread finds work, `timeout` passes, or ``wakeAll()``; returns at
    /// once if one of `queues` is left unwatched (the caller should watch it).
    func sleep(for timeout: Duration, watching queues: [String], while keepSleeping: () -> Bool) {
        let deadline = Date(timeIntervalSinceNow: timeout.secondsValue)
        condition.lock()
        sleepers.add(1, ordering: .sequentiallyConsistent)
        // Under the lock the watchers resign under: a watcher that resigned before this is seen
        // gone here; one that resigns after finds this sleeper counted.
        while permits == 0, keepSleeping(), queues.allSatisfy(watched.contains), condition.wait(until: deadline) {}
        if permits > 0 { permits -= 1 }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        condition.unlock()
    }

    /// Work was found: one sleeper, if any, comes to fetch too.
    func wakeOne() {
        guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
        condition.lock()
        if permits < sleepers.load(ordering: .sequentiallyConsistent) {
            permits += 1
            condition.signal()
        }
        condition.unlock()
    }

    /// Every sleeper returns (the process stops or goes quiet).
    func wakeAll() {
        condition.lock()
        permits = sleepers.load(ordering: .sequentiallyConsistent)
        condition.broadcast()
        condition.unlock()
    }
}
