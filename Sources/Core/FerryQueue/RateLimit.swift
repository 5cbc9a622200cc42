import FerrySupport

/// A fleet-wide rate limit of one job type: at most `limit` jobs started per `period`, up to
/// `burst` of them at once, optionally one budget per value of an argument (`key`).
///
/// ```yaml
/// # jobs/claude.message.yml
/// rate: {limit: 50, per: 1m, burst: 10, key: model, reserve: {critical: 20%}}
/// ```
///
/// It is enforced as GCRA (the generic cell rate algorithm): a job may start when the
/// theoretical arrival time of the next job is at most `burst - 1` intervals ahead of now.
/// In any window of length W at most `limit × W / period + burst` jobs start.
///
/// `reserved` keeps a share of the budget for queues: jobs from the other queues together
/// may use only `1 - Σ shares` of the rate, so a reserved queue always finds its share free.
public struct RateLimit: Sendable, Equatable, Codable {
    /// Jobs per period.
    public var limit: Int
    /// The period, in milliseconds.
    public var periodMS: Int64
    /// Jobs that may start at the same instant; at least 1.
    public var burst: Int
    /// The argument whose value selects the budget (`nil`: one budget for the type).
    public var key: String?
    /// Queue name → share of the rate kept for its jobs (each in 0 < share < 1, total below 1).
    public var reserved: [String: Double]

    enum CodingKeys: String, CodingKey {
        case limit, burst, key, reserved
        case periodMS = "period_ms"
    }

    /// Why a rate limit was refused.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Checks every number: a limit from 1 to 1,000,000, a period from 1 ms to 1 day, a burst
    /// from 1 to 100,000, a key argument name of 1 to 100 bytes, shares that leave some rate to
    /// the other queues.
    public init(limit: Int, period: Duration, burst: Int = 1, key: String? = nil, reserved: [String: Double] = [:]) throws(Invalid) {
        guard (1...1_000_000).contains(limit) else { throw Invalid(description: "rate.limit must be a whole number from 1 to 1000000, got \(limit)") }
        let milliseconds = period.wholeMilliseconds
        guard (1...86_400_000).contains(milliseconds) else { throw Invalid(description: "rate.per must be from 1ms to 1d") }
        guard (1...100_000).contains(burst) else { throw Invalid(description: "rate.burst must be a whole number from 1 to 100000, got \(burst)") }
        if let key { guard (1...100).contains(key.utf8.count) else { throw Invalid(description: "rate.key must name an argument (1 to 100 bytes)") } }
        for (queue, share) in reserved {
            guard Names.isValid(queue) else { throw Invalid(description: "rate.reserve: '\(queue.prefix(100))' is not a queue name") }
            guard share > 0, share < 1 else { throw Invalid(description: "rate.reserve.\(queue) must be a share between 0% and 100%, got \(share)") }
        }
        guard reserved.values.reduce(0, +) < 0.999 else { throw Invalid(description: "rate.reserve: the shares add up to 100% or more; leave some rate to the other queues") }
        self.limit = limit
        self.periodMS = milliseconds
        self.burst = burst
        self.key = key
        self.reserved = reserved
    }

    /// Milliseconds between two jobs at the full rate.
    public var intervalMS: Double { Double(periodMS) / Double(limit) }

    /// The share of the rate and burst the queues without a reserved share may use together.
    public var sharedShare: Double { 1 - reserved.values.reduce(0, +) }

    /// Milliseconds between two jobs of the queues without a reserved share, at their full rate.
    public var sharedIntervalMS: Double { intervalMS / sharedShare }

    /// How many jobs of the queues without a reserved share may start at once (at least 1).
    public var sharedBurst: Int { max(1, Int((Double(burst) * sharedShare + 1e-9).rounded(.down))) }

    /// The class of budget a job from `queue` draws on: its queue's name when the queue has a
    /// reserved share, else `*` (the shared part).
    public func budgetClass(forQueue queue: String) -> String {
        reserved[queue] == nil ? Self.sharedClass : queue
    }

    /// The class of the queues without a reserved share.
    public static let sharedClass = "*"

    /// The budget key of a job: the value of the `key` argument (a string, or a number or
    /// boolean as written), `-` when the limit has no key or the job lacks the argument.
    /// At most 200 bytes of it are used.
    public func budgetKey(of arguments: JSONValue) -> String {
        guard let key, case .object(let fields) = arguments, let value = fields[key] else { return "-" }
        let text: String
        switch value {
        case .string(let string): text = string
        case .int(let number): text = String(number)
        case .double(let number): text = String(number)
        case .bool(let flag): text = flag ? "true" : "false"
        default: return "-"
        }
        if text.isEmpty { return "-" }
        return text.utf8.count <= 200 ? text : String(decoding: Array(text.utf8.prefix(200)), as: UTF8.self)
    }
}

extension RateLimit: CustomStringConvertible {
    /// `50 per 60.0 seconds, burst 10, one budget per model, reserved critical 20%`.
    public var description: String {
        var text = "\(limit) per \(Duration.milliseconds(periodMS)), burst \(burst)"
        if let key { text += ", one budget per \(key)" }
        if !reserved.isEmpty {
            text += ", reserved " + reserved.sorted { $0.key < $1.key }.map { "\($0.key) \(Int(($0.value * 100).rounded()))%" }.joined(separator: ", ")
        }
        return text
    }
}
