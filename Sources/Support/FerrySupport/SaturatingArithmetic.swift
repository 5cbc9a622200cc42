extension Int {
    /// `self + other`, held at `Int.max` / `Int.min` instead of trapping: for totals of counters
    /// that others can write (a Redis counter `SET` to 9223372036854775807 must not take a
    /// server down when two of them are added).
    package func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
