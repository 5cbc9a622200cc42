/// Checked conversions between the time units Ferry meets at its edges: seconds as a `Double`
/// (job JSON, the CLI, HTTP), whole milliseconds (Redis scores) and `Duration` (the API).
///
/// Every number that arrives from outside goes through one of these before it is used, so a
/// `1e300` or a `NaN` becomes a clear error instead of a trapping integer conversion.
public enum TimeLimits {
    /// The latest instant Ferry accepts, 9999-12-31T23:59:59Z, in Unix seconds.
    public static let latestInstant: Double = 253_402_300_799
    /// The longest duration Ferry accepts for a timeout, a delay or a TTL: 10 years.
    public static let longestDuration: Double = 10 * 366 * 86_400
}

extension Duration {
    /// A duration of `seconds`, or nil when `seconds` is not finite, negative, or longer than
    /// `maximum` seconds.
    public init?(checkedSeconds seconds: Double, maximum: Double = TimeLimits.longestDuration) {
        guard seconds.isFinite, seconds >= 0, seconds <= maximum else { return nil }
        self = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// The duration in seconds, with its fraction.
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds, rounded, clamped to the range of `Int64`.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowAgain) = product.addingReportingOverflow((attoseconds + 500_000_000_000_000) / 1_000_000_000_000_000)
        return overflowAgain ? .max : sum
    }
}

/// Unix time in whole milliseconds, the unit of every Redis score Ferry writes.
public enum UnixMilliseconds {
    /// `seconds` (Unix time) in milliseconds, or nil when it is not finite or outside year 0…9999.
    public static func checked(_ seconds: Double) -> Int64? {
        guard seconds.isFinite, seconds >= 0, seconds <= TimeLimits.latestInstant else { return nil }
        return Int64((seconds * 1000).rounded())
    }

    /// `seconds` in milliseconds, clamped into 0…year 9999 (for values already validated or
    /// produced by this process's own clock).
    public static func clamped(_ seconds: Double) -> Int64 {
        guard seconds.isFinite else { return seconds > 0 ? Int64(TimeLimits.latestInstant * 1000) : 0 }
        return Int64((min(max(seconds, 0), TimeLimits.latestInstant) * 1000).rounded())
    }
}

extension Duration {
    /// Parses `500ms`, `30s`, `5m`, `1h`, `2d` or a plain number of seconds; nil for anything
    /// else, for negative values and for durations longer than `maximum` seconds.
    public init?(parsing text: String, maximum: Double = TimeLimits.longestDuration) {
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = Substring(text)
        var scale = 1.0
        if let unit = units.first(where: { text.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.scale
        }
        guard let value = Double(number) else { return nil }
        self.init(checkedSeconds: value * scale, maximum: maximum)
    }
}
