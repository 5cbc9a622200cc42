@testable import FerryWorker
import Foundation
import Synchronization
import Testing

/// Where a worker's idle job threads wait: one per queue in Redis, the others asleep until work
/// is found — and never asleep while a queue has nobody waiting on it.
@Suite struct IdleFetchTests {
    /// Runs `sleep` on another thread; returns when it has returned, or nil after `limit`.
    func timedSleep(_ idle: IdleFetch, queues: [String], timeout: Duration, limit: Duration = .seconds(5), keepSleeping: @escaping @Sendable () -> Bool = { true }) -> Duration? {
        let done = DispatchSemaphore(value: 0)
        let started = ContinuousClock.now
        let took = Mutex<Duration?>(nil)
        Thread.detachNewThread {
            idle.sleep(for: timeout, watching: queues, while: keepSleeping)
            took.withLock { $0 = ContinuousClock.now - started }
            done.signal()
        }
        guard done.wait(timeout: .now() + limit.secondsValue) == .success else { return nil }
        return took.withLock { $0 }
    }

    @Test func oneWatcherPerQueue() {
        let idle = IdleFetch()
        #expect(idle.watch(["a", "b"]) == "a")
        #expect(idle.watch(["a", "b"]) == "b")
        #expect(idle.watch(["b", "a"]) == nil)
        idle.resign("a")
        #expect(idle.watch(["b", "a"]) == "a")
    }

    @Test func aSleeperReturnsAtOnceWhileAQueueIsUnwatched() throws {
        let idle = IdleFetch()
        _ = idle.watch(["a"])
        let took = try #require(timedSleep(idle, queues: ["a", "b"], timeout: .seconds(30)))
        #expect(took < .seconds(5))
    }

    @Test func aSleeperWakesWhenWorkIsFoundAndOnItsOwnAfterTheTimeout() throws {
        let idle = IdleFetch()
        _ = idle.watch(["a"])
        // Woken by a thread that found work (it says so until the sleeper is seen back: a
        // wake-up given before anyone sleeps is not kept for later).
        let back = Atomic<Bool>(false)
        let waker = Thread {
            Thread.sleep(forTimeInterval: 0.2)
            while !back.load(ordering: .relaxed) {
                idle.wakeOne()
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        waker.start()
        let woken = try #require(timedSleep(idle, queues: ["a"], timeout: .seconds(30), limit: .seconds(20)))
        back.store(true, ordering: .relaxed)
        #expect(woken >= .milliseconds(150) && woken < .seconds(20))
        // Nothing comes: back after the timeout.
        let timedOut = try #require(timedSleep(idle, queues: ["a"], timeout: .milliseconds(300)))
        #expect(timedOut >= .milliseconds(250))
        // Once the watcher resigned, the queue is unwatched: a thread does not sleep but watches it.
        idle.resign("a")
        let unwatched = try #require(timedSleep(idle, queues: ["a"], timeout: .seconds(30)))
        #expect(unwatched < .seconds(5))
    }

    @Test func wakeAllReleasesEverySleeperAndAWakeUpIsNotLost() throws {
        let idle = IdleFetch()
        _ = idle.watch(["a"])
        let stopping = Atomic<Bool>(false)
        let returned = Atomic<Int>(0)
        for _ in 0..<4 {
            Thread.detachNewThread {
                idle.sleep(for: .seconds(60), watching: ["a"]) { !stopping.load(ordering: .relaxed) }
                returned.add(1, ordering: .relaxed)
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(returned.load(ordering: .relaxed) == 0)
        idle.wakeOne()
        let deadline = ContinuousClock.now + .seconds(5)
        while returned.load(ordering: .relaxed) < 1, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(returned.load(ordering: .relaxed) == 1)
        stopping.store(true, ordering: .relaxed)
        idle.wakeAll()
        while returned.load(ordering: .relaxed) < 4, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(returned.load(ordering: .relaxed) == 4)
    }
}
