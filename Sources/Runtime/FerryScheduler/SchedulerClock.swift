public import Foundation

/// The scheduler's time source. The wall clock in production; tests use a clock they move by
/// hand, so that minutes of ticks, restarts and missed-tick policies run in milliseconds.
public protocol SchedulerClock: Sendable {
    /// The current time.
    var now: Date { get }
    /// Blocks until `deadline` or until `wake` is signalled (the scheduler is stopping).
    func sleep(until deadline: Date, wake: DispatchSemaphore)
}

/// The system's wall clock.
public struct WallClock: SchedulerClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date, wake: DispatchSemaphore) {
        let seconds = min(max(0, deadline.timeIntervalSinceNow), 3600)
        _ = wake.wait(timeout: .now() + seconds)
    }
}
