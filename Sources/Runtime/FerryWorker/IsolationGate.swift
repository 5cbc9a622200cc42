import Foundation
import Synchronization

/// Lets a crash suspect run alone in its process: ordinary jobs share the gate, a suspect takes
/// it exclusively once every ordinary job running has finished, and ordinary jobs wait while it
/// runs. If the process dies then, only the suspect was running, so only it is blamed.
///
/// The shared path is two atomic operations and no lock, so ordinary jobs pay nothing for it.
final class IsolationGate: Sendable {
    private let running = Atomic<Int>(0)
    private let exclusive = Atomic<Bool>(false)

    /// Enters for an ordinary job; false if `giveUp` said to stop waiting first.
    func enterShared(giveUp: () -> Bool) -> Bool {
        while true {
            if !exclusive.load(ordering: .sequentiallyConsistent) {
                running.add(1, ordering: .sequentiallyConsistent)
                if !exclusive.load(ordering: .sequentiallyConsistent) { return true }
                running.subtract(1, ordering: .sequentiallyConsistent)
            }
            if giveUp() { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
    }

    func leaveShared() {
        running.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Enters alone: waits for any other suspect, then for every ordinary job to finish.
    /// False if `giveUp` said to stop waiting first.
    func enterExclusive(giveUp: () -> Bool) -> Bool {
        while !exclusive.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            if giveUp() { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
        while running.load(ordering: .sequentiallyConsistent) > 0 {
            if giveUp() {
                exclusive.store(false, ordering: .sequentiallyConsistent)
                return false
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }

    func leaveExclusive() {
        exclusive.store(false, ordering: .sequentiallyConsistent)
    }
}
