/// The one rule for the names Ferry puts into Redis keys and job envelopes: queue names and job
/// type names, checked the same way by the dispatcher, the worker's `--queues`, the admin API and
/// the CLI.
///
/// A name is 1 to 100 ASCII letters, digits, `.`, `_` or `-`. No `:` (the worker's `--queues`
/// takes `name:weight`, and keys are `:`-separated), no braces (Redis Cluster hash tags), no spaces.
public enum Names {
    /// The longest name, in bytes.
    public static let maximumLength = 100

    /// True when `name` follows the rule.
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maximumLength && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    /// Throws a message that says what a valid name looks like.
    public static func validateQueue(_ name: String) throws(QueueError) {
        try validate(name, what: "queue name")
    }

    /// Throws a message that says what a valid job type name looks like.
    public static func validateJobType(_ name: String) throws(QueueError) {
        try validate(name, what: "job type")
    }

    static func validate(_ name: String, what: String) throws(QueueError) {
        guard isValid(name) else {
            throw .invalidJob("'\(name.prefix(maximumLength))' is not a valid \(what): use 1 to \(maximumLength) ASCII letters, digits, '.', '_' or '-'")
        }
    }

    /// Why `type` cannot be enqueued where `known` are the types an app registers — naming the
    /// closest known type when it looks like a typo of one — or nil when it is known.
    /// `allowance` says how a caller enqueues a type that another fleet serves.
    public static func unknownType(_ type: String, known: [String], allowance: String) -> String? {
        guard !known.contains(type) else { return nil }
        let shown = String(type.prefix(maximumLength))
        var message = "no job type '\(shown)' is registered"
        if let closest = closest(to: type, among: known) { message += " (did you mean '\(closest)'?)" }
        message += known.isEmpty ? "; this app registers no job types" : "; known types: \(known.sorted().joined(separator: ", "))"
        return message + ". \(allowance) to enqueue a type another fleet serves."
    }

    /// The name among `names` nearest to `name` by edits (insertions, deletions, substitutions,
    /// swaps of neighbours), when it is near enough to be a typo: at most a third of its length.
    static func closest(to name: String, among names: [String]) -> String? {
        let target = Array(name.lowercased().utf8.prefix(maximumLength))
        var best: (name: String, distance: Int)?
        for candidate in names {
            let distance = editDistance(target, Array(candidate.lowercased().utf8))
            if distance <= max(1, target.count / 3), distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    /// Optimal string alignment distance.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1) }
            }
        }
        return rows[a.count][b.count]
    }
}
