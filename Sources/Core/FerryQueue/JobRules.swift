import FerrySupport

/// The limits on a job's attempts and timeout, checked the same way by every way in: the
/// dispatcher (and so chains and batches), `jobs/*.yml`, the `ferry` command and the admin API.
/// Names follow ``Names``.
public enum JobRules {
    /// How many attempts a job may have.
    public static let attempts = 1...1000
    /// The shortest timeout: one millisecond (the resolution of the worker's clock).
    public static let shortestTimeout = Duration.milliseconds(1)
    /// The longest timeout: 10 years.
    public static let longestTimeout = Duration.seconds(Int64(TimeLimits.longestDuration))

    /// Throws unless `value` is in ``attempts``.
    public static func checkMaxAttempts(_ value: Int) throws(QueueError) {
        guard attempts.contains(value) else {
            throw .invalidJob("max_attempts must be between \(attempts.lowerBound) and \(attempts.upperBound), got \(value)")
        }
    }

    /// Throws unless `timeout` is between ``shortestTimeout`` and ``longestTimeout``.
    public static func checkTimeout(_ timeout: Duration) throws(QueueError) {
        guard timeout >= shortestTimeout, timeout <= longestTimeout else { throw badTimeout(timeout.secondsValue) }
    }

    /// A timeout given in seconds (`timeout_s` of the wire format), checked.
    public static func timeout(seconds: Double) throws(QueueError) -> Duration {
        guard let timeout = Duration(checkedSeconds: seconds) else { throw badTimeout(seconds) }
        try checkTimeout(timeout)
        return timeout
    }

    private static func badTimeout(_ seconds: Double) -> QueueError {
        .invalidJob("timeout_s must be from 0.001 to \(Int64(TimeLimits.longestDuration)) seconds (10 years), got \(seconds)")
    }
}
