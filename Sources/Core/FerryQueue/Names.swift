/// The one rule for the names Ferry puts into Redis keys and job envelopes: queue names and job
/// type names, checked the same way by the dispatcher, the worker's `--queues`, the admin API and
/// the CLI.
///
/// A name is 1 to 100 ASCII letters, digits, `.`, `_` or `-`. No `:` (the worker's `--queues`
/// takes `name:weight`, and keys are `:`-separated), no braces (Redis Cluster hash tags), no spaces.
public enum Names {
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

    public static func validateJobType(_ name: String) throws(QueueError) {
        try validate(name, what: "job type")
    }

    static func validate(_ name: String, what: String) throws(QueueError) {
        guard isValid(name) else {
            throw .invalidJob("'\(name.prefix(maximumLength))' is not a valid \(what): use 1 to \(maximumLength) ASCII letters, digits, '.', '_' or '-'")
        }
    }
}
