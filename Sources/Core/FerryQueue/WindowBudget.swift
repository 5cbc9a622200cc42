public import FerryRedis
public import Foundation
import FerrySupport

/// Fleet-wide budgets of several measures — requests, input tokens, output tokens, say — of one
/// scope (a model of an API), each allowing at most `limit` units in any window of its length.
///
/// Unlike a ``RateLimit``, which counts jobs, a budget counts what a job *spends*, in amounts
/// known only to the job: the handler asks for all its measures at once (``spend(_:on:)``,
/// all or nothing), corrects its estimates once it knows what it used (``correct(_:to:on:)``),
/// and can align the budget with what the service says is left (``sync(_:remaining:resetsAt:on:)``).
/// A refusal says how long until enough frees up; FerryWorker's `RateLimited` turns that into a
/// pause of the job's rate-limit budget without spending an attempt.
///
/// Each measure is a sliding log in Redis (a sorted set of spends by time, their amounts, and
/// the running total), so no window of the measure's length — wherever it starts — holds more
/// than its limit: stricter than a token bucket of the same limit, so a service enforcing one
/// never refuses what the budget let through. Keys share the hash tag `{budget:<scope>}`.
public struct WindowBudget: Sendable {
    /// One measure: at most `limit` units spent in any `windowMS` milliseconds.
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

    /// What a spend was given: pass it to ``correct(_:to:on:)``.
    public struct Reservation: Sendable, Equatable {
        public var id: String
        public var amounts: [String: Int64]
    }

    /// What ``spend(_:on:)`` decided.
    public enum Decision: Sendable, Equatable {
        case granted(Reservation)
        /// Not enough of `measure` is free; enough will be in about `retryIn`.
        case wait(retryIn: Duration, measure: String)
        /// The amount of `measure` is over its limit: it can never be granted.
        case tooLarge(measure: String, amount: Int64, limit: Int64)
    }

    /// What is spent of a measure in its current window.
    public struct Usage: Sendable, Equatable, Encodable {
        public var measure: String
        public var used: Int64
        public var limit: Int64
        public var windowMS: Int64

        enum CodingKeys: String, CodingKey {
            case measure, used, limit
            case windowMS = "window_ms"
        }
    }

    public let scope: String
    public let measures: [Measure]
    let keys: QueueKeyspace

    public init(scope: String, measures: [Measure], keys: QueueKeyspace) {
        self.scope = scope
        self.measures = measures
        self.keys = keys
    }

    private func redisKeys(_ measure: Measure) -> [RedisArgument] {
        let prefix = keys.budget(scope) + measure.name
        return [.string(prefix + ":log"), .string(prefix + ":amount"), .string(prefix + ":used")]
    }

    /// Spends `amounts` (measure name → units; measures not named spend nothing) if every measure
    /// has room, else nothing.
    public func spend(_ amounts: [String: Int64], on redis: RedisConnection) throws(RedisError) -> Decision {
        let id = UUID().uuidString
        var scriptKeys: [RedisArgument] = []
        var arguments: [RedisArgument] = [.string(id)]
        for measure in measures {
            let amount = max(0, amounts[measure.name] ?? 0)
            if amount > measure.limit { return .tooLarge(measure: measure.name, amount: amount, limit: measure.limit) }
            scriptKeys += redisKeys(measure)
            arguments += [.string(String(measure.limit)), .string(String(measure.windowMS)), .string(String(amount))]
        }
        let reply = try redis.run(WindowBudgetScripts.spend, keys: scriptKeys, arguments: arguments)
        guard case .array(let parts) = reply, let granted = parts.first?.int else {
            throw RedisError.unexpectedReply(expected: "an array from budget_spend", got: "\(reply)")
        }
        if granted == 1 {
            return .granted(Reservation(id: id, amounts: measures.reduce(into: [:]) { $0[$1.name] = max(0, amounts[$1.name] ?? 0) }))
        }
        // Within a day whatever the reply says (the scores are others' writes too).
        let waitMS = min(max(1, parts.count > 1 ? parts[1].int ?? 1000 : 1000), 86_400_000)
        let index = parts.count > 2 ? (parts[2].int ?? 1) - 1 : 0
        return .wait(retryIn: .milliseconds(waitMS), measure: measures.indices.contains(index) ? measures[index].name : "?")
    }

    /// Replaces the amounts of `reservation` with what was used (measures not named keep theirs);
    /// nothing for spends that have left their window.
    public func correct(_ reservation: Reservation, to actual: [String: Int64], on redis: RedisConnection) throws(RedisError) {
        var scriptKeys: [RedisArgument] = []
        var arguments: [RedisArgument] = [.string(reservation.id)]
        for measure in measures {
            scriptKeys += redisKeys(measure)
            arguments.append(.string(actual[measure.name].map { String(max(0, $0)) } ?? ""))
        }
        _ = try redis.run(WindowBudgetScripts.correct, keys: scriptKeys, arguments: arguments)
    }

    /// The service says `remaining` units of `measure` are left until `resetsAt`: when that is
    /// less than the budget thinks, the difference counts as spent until then.
    public func sync(_ measure: String, remaining: Int64, resetsAt: Date, on redis: RedisConnection) throws(RedisError) {
        guard let found = measures.first(where: { $0.name == measure }), remaining >= 0 else { return }
        let resetMS = resetsAt.timeIntervalSince1970 * 1000
        guard resetMS.isFinite, abs(resetMS) < 1e15 else { return }
        _ = try redis.run(WindowBudgetScripts.sync, keys: redisKeys(found), arguments: [
            .string(String(found.limit)), .string(String(found.windowMS)), .string(String(min(remaining, found.limit))),
            .string(String(Int64(resetMS))), .string(UUID().uuidString),
        ])
    }

    /// What is spent of each measure in its current window.
    public func usage(on redis: RedisConnection) throws(RedisError) -> [Usage] {
        try measures.map { measure throws(RedisError) in
            let reply = try redis.run(WindowBudgetScripts.usage, keys: redisKeys(measure), arguments: [.string(String(measure.windowMS))])
            return Usage(measure: measure.name, used: Int64(min(max(reply.int ?? 0, 0), Int(measure.limit) * 2)), limit: measure.limit, windowMS: measure.windowMS)
        }
    }
}

/// The scripts of ``WindowBudget``: per measure three keys (log, amount, used); times in ms by
/// the server's clock.
enum WindowBudgetScripts {
    static let helpers = QueueScripts.helpers + """
        local function number(value) return tonumber(value or '0') or 0 end
        -- Drops the spends that have left the window; returns the total still in it.
        local function expire(log, amount, used, window, now)
          local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
          local total = number(redis.call('GET', used))
          for _, id in ipairs(old) do
            total = total - number(redis.call('HGET', amount, id))
            redis.call('HDEL', amount, id)
          end
          if #old > 0 then redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window) end
          if total < 0 or redis.call('ZCARD', log) == 0 then total = 0 end
          redis.call('SET', used, total, 'PX', window + 60000)
          return total
        end

        """

    /// ARGV: id, then per measure limit, window, amount. Returns {1} granted, or {0, ms to wait,
    /// index of the measure short}.
    static let spend = RedisScript(name: "budget_spend", source: helpers + """
        local now = now_ms()
        local count = #KEYS / 3
        local longest, short = 0, 0
        local used = {}
        for i = 1, count do
          local log, amount, total = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
          local limit, window, want = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
          used[i] = expire(log, amount, total, window, now)
          if want > 0 and used[i] + want > limit then
            -- The oldest spends leave first: wait until enough of them have.
            local wait = window
            local freed = 0
            local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
            for j = 1, #entries, 2 do
              freed = freed + number(redis.call('HGET', amount, entries[j]))
              if used[i] - freed + want <= limit then
                wait = tonumber(entries[j + 1]) + window - now
                break
              end
            end
            if wait > longest then longest, short = wait, i end
          end
        end
        if short > 0 then return {0, math.ceil(math.max(longest, 1)), short} end
        for i = 1, count do
          local want = tonumber(ARGV[3 * i + 1])
          if want > 0 then
            local window = tonumber(ARGV[3 * i])
            redis.call('ZADD', KEYS[3 * i - 2], now, ARGV[1])
            redis.call('HSET', KEYS[3 * i - 1], ARGV[1], want)
            redis.call('SET', KEYS[3 * i], used[i] + want, 'PX', window + 60000)
            redis.call('PEXPIRE', KEYS[3 * i - 2], window + 60000)
            redis.call('PEXPIRE', KEYS[3 * i - 1], window + 60000)
          end
        end
        return {1}
        """)

    /// ARGV: id, then per measure the amount used ("" keeps the reserved one).
    static let correct = RedisScript(name: "budget_correct", source: helpers + """
        for i = 1, #KEYS / 3 do
          local actual = tonumber(ARGV[i + 1])
          local before = redis.call('HGET', KEYS[3 * i - 1], ARGV[1])
          if actual and before then
            redis.call('HSET', KEYS[3 * i - 1], ARGV[1], actual)
            local total = number(redis.call('GET', KEYS[3 * i])) + actual - tonumber(before)
            redis.call('SET', KEYS[3 * i], math.max(total, 0), 'KEEPTTL')
          end
        end
        return 1
        """)

    /// KEYS: log, amount, used. ARGV: limit, window, remaining, reset (ms), id.
    static let sync = RedisScript(name: "budget_sync", source: helpers + """
        local now = now_ms()
        local limit, window, remaining, reset = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local used = expire(KEYS[1], KEYS[2], KEYS[3], window, now)
        local missing = limit - used - remaining
        if missing <= 0 then return 0 end
        -- Counted as spent from (reset - window), so that it leaves the window at reset.
        local at = math.min(now, math.max(reset - window, now - window + 1))
        redis.call('ZADD', KEYS[1], at, ARGV[5])
        redis.call('HSET', KEYS[2], ARGV[5], missing)
        redis.call('SET', KEYS[3], used + missing, 'PX', window + 60000)
        redis.call('PEXPIRE', KEYS[1], window + 60000)
        redis.call('PEXPIRE', KEYS[2], window + 60000)
        return missing
        """)

    /// KEYS: log, amount, used. ARGV: window. Returns the total in the window.
    static let usage = RedisScript(name: "budget_usage", source: helpers + """
        return expire(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), now_ms())
        """)
}
