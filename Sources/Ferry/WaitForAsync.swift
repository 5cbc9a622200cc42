import Foundation
import Synchronization

/// Runs async work from a synchronous command and waits for it.
///
/// The root command stays synchronous because the other commands handle signals on a thread of
/// their own (`SignalWatcher`); commands built on swift-service-lifecycle run their service group
/// in a task while the main thread waits here.
public func waitForAsync(_ body: @escaping @Sendable () async throws -> Void) throws {
    let failure = Mutex<(any Error)?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { failure.withLock { $0 = error } }
        done.signal()
    }
    done.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}
