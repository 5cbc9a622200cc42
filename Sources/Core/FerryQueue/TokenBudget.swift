public import FerryRedis
import Foundation
import FerrySupport

/// Fleet-wide budgets of several measures — requests, input tokens, output tokens, say — of one
/// scope (a model of an API), each a token bucket refilled continuously, as the service that
/// enforces them refills its own.
///
/// Unlike a ``RateLimit``, which counts jobs, a budget counts what a job *spends*, in amounts
/// known only to the job: the handler asks for all its measures at once (``spend(_:on:)``, all
/// or nothing), corrects its estimates once it knows what it used (``correct(_:to:on:)``), and
/// tells the budget what the service announced (``sync(_:remaining:limit:on:)``): the service's
/// limit replaces the configured one in both directions (at most the ``ceilings``), and what it
/// says is left bounds the bucket. A refusal says how long until enough has refilled;
/// FerryWorker's `RateLimited` turns that into a pause of the job's rate-limit key across the
/// fleet without spending an attempt.
///
/// Each measure refills at `pace` × its limit per window and holds at most ``Pacing/burst``'s
/// worth: a service that enforces a minute's limit as a second's share (60 a minute as one a
/// second) never sees a burst, and one that counts any sliding window never sees more than its
/// limit in it (`pace` is lowered for small limits so that burst plus refill stay within one
/// window). A spend larger than a burst is granted from a full bucket and leaves it in debt.
/// State lives in Redis under the hash tag `{budget:<scope>}`: per measure a bucket (level and
/// time) and the limit the service announced.
public struct TokenBudget: Sendable {
    /// One measure: `limit` units per `windowMS` milliseconds until the service announces its own.
    public struct Measure: Sendable, Equatable {
        public var name: String
        public var limit: Int64
        public var windowMS: Int64

        /// A limit from 1 to 10¹², a window from 1 ms to a day, a name of 1 to 64 letters, digits, `-` or `_`.
        public init(_ name: String, limit: Int64, window: Duration) throws(RateLimit.Invalid) {
            guard (1...64).contains(name.utf8.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw RateLimit.Invalid(description: "a budget's measure needs a name of letters, digits, '-' or '_', got '\(name.prefix(64))'")
            }
            guard (1...1_000_000_000_000).contains(limit) else { throw RateLimit.Invalid(description: "\(name) must be from 1 to 10^12, got \(limit)") }
            let milliseconds = window.wholeMilliseconds
            guard (1...86_400_000).contains(milliseconds) else { throw RateLimit.Invalid(description: "the window of \(name) must be from 1ms to 1d") }
            self.name = name
            self.limit = limit
            self.windowMS = milliseconds
        }
    }

    /// How evenly the budget lets spends out.
    public struct Pacing: Sendable, Equatable {
        /// The share of the limit the bucket refills at (0.5 to 1): room for the time between the
        /// spend and the service counting it.
        public var pace: Double
        /// The most a bucket holds, as the time the limit takes to refill it (at least one unit).
        public var burstMS: Int64

        public init(pace: Double = 0.95, burst: Duration = .seconds(1)) throws(RateLimit.Invalid) {
            guard pace.isFinite, (0.5...1).contains(pace) else { throw RateLimit.Invalid(description: "pace must be from 0.5 to 1, got \(pace)") }
            let milliseconds = burst.wholeMilliseconds
            guard (1...86_400_000).contains(milliseconds) else { throw RateLimit.Invalid(description: "burst must be from 1ms to 1d") }
            self.init(checkedPace: pace, burstMS: milliseconds)
        }

        private init(checkedPace pace: Double, burstMS: Int64) {
            self.pace = pace
            self.burstMS = burstMS
        }

        /// 95% of the limit, a second's worth at most at once.
        public static let standard = Pacing(checkedPace: 0.95, burstMS: 1000)
    }

    /// What a spend was given: pass it to ``correct(_:to:on:)``.
    public struct Reservation: Sendable, Equatable {
        public var amounts: [String: Int64]
    }

    /// What ``spend(_:on:)`` decided.
    public enum Decision: Sendable, Equatable {
        case granted(Reservation)
        /// Not enough of `measure` is left; enough will have refilled in about `retryIn`.
        case wait(retryIn: Duration, measure: String)
        /// The amount of `measure` is over its limit per window: it can never be granted.
        case tooLarge(measure: String, amount: Int64, limit: Int64)
    }

    /// A measure as it stands: the limit in force (announced or configured, at most the
    /// ceiling), the bucket's size and what is in it.
    public struct State: Sendable, Equatable, Encodable {
        public var measure: String
        public var limit: Int64
        public var announced: Bool
        public var capacity: Double
        public var level: Double
        public var windowMS: Int64

        enum CodingKeys: String, CodingKey {
            case measure, limit, announced, capacity, level
            case windowMS = "window_ms"
        }
    }

    public let scope: String
    public let measures: [Measure]
    public let pacing: Pacing
    /// The most the budget follows the service to, per measure and window (the user's cap).
    public let ceilings: [String: Int64]
    let keys: QueueKeyspace

    public init(scope: String, measures: [Measure], pacing: Pacing = .standard, ceilings: [String: Int64] = [:], keys: QueueKeyspace) {
        self.scope = scope
        self.measures = measures
        self.pacing = pacing
        self.ceilings = ceilings
        self.keys = keys
    }

    private func redisKeys(_ measure: Measure) -> [RedisArgument] {
        let prefix = keys.budget(scope) + measure.name
        return [.string(prefix + ":bucket"), .string(prefix + ":announced")]
    }

    /// Per measure: configured limit, window, ceiling (0: none), pace, burst.
    private func shape(_ measure: Measure) -> [RedisArgument] {
        [.string(String(measure.limit)), .string(String(measure.windowMS)), .string(String(max(0, ceilings[measure.name] ?? 0))),
         .string(String(pacing.pace)), .string(String(pacing.burstMS))]
    }

    /// Spends `amounts` (measure name → units; measures not named spend nothing) if every measure
    /// has enough, else nothing.
    public func spend(_ amounts: [String: Int64], on redis: RedisConnection) throws(RedisError) -> Decision {
        var scriptKeys: [RedisArgument] = []
        var arguments: [RedisArgument] = []
        var spent: [String: Int64] = [:]
        for measure in measures {
            let amount = min(max(0, amounts[measure.name] ?? 0), 1_000_000_000_000)
            spent[measure.name] = amount
            scriptKeys += redisKeys(measure)
            arguments += shape(measure) + [.string(String(amount))]
        }
        let reply = try redis.run(TokenBudgetScripts.spend, keys: scriptKeys, arguments: arguments)
        guard case .array(let parts) = reply, let outcome = parts.first?.int else {
            throw RedisError.unexpectedReply(expected: "an array from budget_spend", got: "\(reply)")
        }
        let index = parts.count > 2 ? (parts[2].int ?? 1) - 1 : 0
        let name = measures.indices.contains(index) ? measures[index].name : "?"
        switch outcome {
        case 1: return .granted(Reservation(amounts: spent))
        case 2: return .tooLarge(measure: name, amount: spent[name] ?? 0, limit: Int64(min(max(parts.count > 1 ? parts[1].int ?? 0 : 0, 0), 1_000_000_000_000)))
        default:
            // Within a day whatever the reply says (the state is others' writes too).
            let waitMS = min(max(1, parts.count > 1 ? parts[1].int ?? 1000 : 1000), 86_400_000)
            return .wait(retryIn: .milliseconds(waitMS), measure: name)
        }
    }

    /// What was used instead of what `reservation` took (measures not named keep theirs): the
    /// difference goes back into the bucket, or is taken from it.
    public func correct(_ reservation: Reservation, to actual: [String: Int64], on redis: RedisConnection) throws(RedisError) {
        var scriptKeys: [RedisArgument] = []
        var arguments: [RedisArgument] = []
        for measure in measures {
            scriptKeys += redisKeys(measure)
            let delta = actual[measure.name].map { (reservation.amounts[measure.name] ?? 0) - min(max(0, $0), 1_000_000_000_000) } ?? 0
            arguments += shape(measure) + [.string(String(delta))]
        }
        _ = try redis.run(TokenBudgetScripts.correct, keys: scriptKeys, arguments: arguments)
    }

    /// The service says `remaining` units of `measure` are left now, and (when it says) that its
    /// limit is `limit` a window: the limit is followed up or down (at most the ceiling; kept an
    /// hour, renewed by every answer), and the bucket holds no more than `remaining`.
    public func sync(_ measure: String, remaining: Int64?, limit: Int64?, on redis: RedisConnection) throws(RedisError) {
        guard let found = measures.first(where: { $0.name == measure }) else { return }
        let announced = limit.flatMap { (1...1_000_000_000_000).contains($0) ? $0 : nil }
        let left = remaining.flatMap { $0 >= 0 ? min($0, 1_000_000_000_000) : nil }
        guard announced != nil || left != nil else { return }
        _ = try redis.run(TokenBudgetScripts.sync, keys: redisKeys(found), arguments: shape(found) + [
            .string(announced.map { String($0) } ?? ""), .string(left.map { String($0) } ?? ""),
        ])
    }

    /// Each measure as it stands now.
    public func state(on redis: RedisConnection) throws(RedisError) -> [State] {
        try measures.map { measure throws(RedisError) in
            let reply = try redis.run(TokenBudgetScripts.state, keys: redisKeys(measure), arguments: shape(measure))
            guard case .array(let parts) = reply, parts.count == 4 else { throw RedisError.unexpectedReply(expected: "4 numbers from budget_state", got: "\(reply)") }
            func number(_ index: Int) -> Double { parts[index].string.flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil } ?? Double(parts[index].int ?? 0) }
            return State(
                measure: measure.name, limit: Int64(min(max(number(0), 0), 1e12)), announced: number(1) != 0, capacity: number(2),
                level: min(max(number(3), -1e12), 1e12), windowMS: measure.windowMS)
        }
    }
}

/// The scripts of ``TokenBudget``: per measure two keys (bucket, announced) and five shape
/// arguments (configured limit, window, ceiling, pace, burst); times in ms by the server's clock.
enum TokenBudgetScripts {
    static let helpers = QueueScripts.helpers + """
        -- The limit in force, the bucket's capacity and its refill per ms; then its level now.
        local function shape(announced_key, base)
          local limit = tonumber(ARGV[base])
          local window, ceiling = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
          local pace, burst = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
          local announced = tonumber(redis.call('GET', announced_key) or '')
          if announced then limit = announced end
          if ceiling > 0 and limit > ceiling then limit = ceiling end
          local capacity = math.max(1, limit * burst / window)
          -- Burst and refill together stay within one window of the limit.
          pace = math.max(0.5, math.min(pace, 1 - capacity / limit))
          return limit, capacity, limit * pace / window, window, announced ~= nil
        end
        local function level(bucket, capacity, rate, now)
          local state = redis.call('HMGET', bucket, 'level', 'at')
          local stored, at = tonumber(state[1]), tonumber(state[2])
          if not stored or not at then return capacity end
          return math.min(capacity, stored + math.max(0, now - at) * rate)
        end
        local function store(bucket, value, now, window)
          redis.call('HSET', bucket, 'level', tostring(value), 'at', now)
          redis.call('PEXPIRE', bucket, 2 * window + 60000)
        end

        """

    /// ARGV per measure: shape (5), amount. Returns {1} granted, {0, ms to wait, index} or
    /// {2, limit, index} when the amount exceeds the limit per window.
    static let spend = RedisScript(name: "budget_spend", source: helpers + """
        local now = now_ms()
        local count = #KEYS / 2
        local levels, longest, short = {}, 0, 0
        for i = 1, count do
          local base = 6 * (i - 1) + 1
          local limit, capacity, rate, window = shape(KEYS[2 * i], base)
          local want = tonumber(ARGV[base + 5])
          if want > limit then return {2, limit, i} end
          levels[i] = {level(KEYS[2 * i - 1], capacity, rate, now), want, window}
          -- A spend larger than the bucket is granted from a full one, and leaves it in debt.
          local need = math.min(want, capacity)
          if want > 0 and levels[i][1] < need then
            local wait = math.ceil((need - levels[i][1]) / rate)
            if wait > longest then longest, short = wait, i end
          end
        end
        if short > 0 then return {0, math.max(longest, 1), short} end
        for i = 1, count do
          if levels[i][2] > 0 then store(KEYS[2 * i - 1], levels[i][1] - levels[i][2], now, levels[i][3]) end
        end
        return {1}
        """)

    /// ARGV per measure: shape (5), units to give back (negative: to take).
    static let correct = RedisScript(name: "budget_correct", source: helpers + """
        local now = now_ms()
        for i = 1, #KEYS / 2 do
          local base = 6 * (i - 1) + 1
          local delta = tonumber(ARGV[base + 5])
          if delta ~= 0 then
            local _, capacity, rate, window = shape(KEYS[2 * i], base)
            store(KEYS[2 * i - 1], math.min(capacity, level(KEYS[2 * i - 1], capacity, rate, now) + delta), now, window)
          end
        end
        return 1
        """)

    /// KEYS: bucket, announced. ARGV: shape (5), announced limit ("" for none), remaining ("" for none).
    static let sync = RedisScript(name: "budget_sync", source: helpers + """
        local now = now_ms()
        if ARGV[6] ~= '' then redis.call('SET', KEYS[2], ARGV[6], 'EX', 3600) end
        local _, capacity, rate, window = shape(KEYS[2], 1)
        local current = level(KEYS[1], capacity, rate, now)
        if ARGV[7] ~= '' then current = math.min(current, tonumber(ARGV[7])) end
        store(KEYS[1], current, now, window)
        return 1
        """)

    /// KEYS: bucket, announced. ARGV: shape (5). Returns {limit, announced, capacity, level}.
    static let state = RedisScript(name: "budget_state", source: helpers + """
        local now = now_ms()
        local limit, capacity, rate, _, announced = shape(KEYS[2], 1)
        return {tostring(limit), announced and 1 or 0, tostring(capacity), tostring(level(KEYS[1], capacity, rate, now))}
        """)
}
