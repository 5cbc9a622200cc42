import Foundation
import Synchronization

/// Lets a crash suspect run alone in its process: ordinary jobs share the gate, a suspect takes
/// it exclusively once every ordinary job running has finished, and ordinary jobs wait while it
/// runs. If the process dies then, only the suspect was running, so only it is blamed.
///
/// The shared path is two atomic operations and no lock, so ordinary jobs pay nothing for it.
/// Waiters sleep on a condition that the event they wait for signals (the suspect leaving, the
/// last ordinary job leaving); they wake on their own only to ask `giveUp` again.
final class IsolationGate: @unchecked Sendable {
    // @unchecked Sendable: `changed` is a thread-safe condition; the counters are atomics.
    private let running = Atomic<Int>(0)
    private let exclusive = Atomic<Bool>(false)
    /// Broadcast when a suspect leaves, and when the last ordinary job leaves while one waits.
    private let changed = NSCondition()
    /// How often a waiter asks `giveUp` again (the events themselves wake it at once).
    private static let recheck: TimeInterval = 0.1

    /// Enters for an ordinary job; false if `giveUp` said to stop waiting first.
    func enterShared(giveUp: () -> Bool) -> Bool {
        while true {
            if !exclusive.load(ordering: .sequentiallyConsistent) {
                running.add(1, ordering: .sequentiallyConsistent)
                if !exclusive.load(ordering: .sequentiallyConsistent) { return true }
                leaveShared()
            }
            if giveUp() { return false }
            // Checked under the lock that the suspect's leaving broadcasts under: no lost wake-up.
            changed.lock()
            if exclusive.load(ordering: .sequentiallyConsistent) { _ = changed.wait(until: Date(timeIntervalSinceNow: Self.recheck)) }
            changed.unlock()
        }
    }

    func leaveShared() {
        let left = running.subtract(1, ordering: .sequentiallyConsistent).newValue
        if left == 0, exclusive.load(ordering: .sequentiallyConsistent) { broadcast() }
    }

    /// Enters alone: waits for any other suspect, then for every ordinary job to finish.
    /// False if `giveUp` said to stop waiting first.
    func enterExclusive(giveUp: () -> Bool) -> Bool {
        while !exclusive.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            if giveUp() { return false }
            changed.lock()
            if exclusive.load(ordering: .sequentiallyConsistent) { _ = changed.wait(until: Date(timeIntervalSinceNow: Self.recheck)) }
            changed.unlock()
        }
        while running.load(ordering: .sequentiallyConsistent) > 0 {
            if giveUp() {
                leaveExclusive()
                return false
            }
            changed.lock()
            if running.load(ordering: .sequentiallyConsistent) > 0 { _ = changed.wait(until: Date(timeIntervalSinceNow: Self.recheck)) }
            changed.unlock()
        }
        return true
    }

    func leaveExclusive() {
        exclusive.store(false, ordering: .sequentiallyConsistent)
        broadcast()
    }

    private func broadcast() {
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }
}
