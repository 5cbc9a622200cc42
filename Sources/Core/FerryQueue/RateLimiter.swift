package import FerryRedis
import FerrySupport
import Foundation

/// Enforces one job type's ``RateLimit`` across every worker process and host.
///
/// A fetched job asks for a token (``acquire(_:job:on:)``). With one free, and nobody of its
/// budget waiting before it, it runs at once. Otherwise it is parked: it leaves the worker's
/// in-flight list for its budget's waiting list (first in, first out), spending no attempt and
/// holding no thread. ``release(on:)``, run by every worker process's limiter pump, hands the
/// tokens that free up to the oldest waiting jobs and puts them at the front of their queues,
/// where the next fetch takes them; the grant goes with the job id, so that fetch does not ask
/// again. A handler that learns from an API that it is limited (`429` with `retry-after`)
/// holds the whole budget until then (``putBack(_:job:holdFor:on:)``, FerryWorker's `RateLimited`).
///
/// The limiter's keys share the hash tag `{limit:<type>}`, the queue's keys `{queue}`; each script
/// touches one of them, so it stays valid on Redis Cluster. A job crossing between the two is
/// written to its destination before it is removed from its source: a crash between the two
/// steps can run it twice, never lose it — and the move from a waiting list back to a queue is
/// deduplicated by a grant number.
///
/// | key (`ns:{limit:<type>}:…`) | type | holds |
/// | --- | --- | --- |
/// | `tat:<key>` | string | GCRA theoretical arrival time (ms, server clock) of the budget |
/// | `tat*:<key>` | string | the same for the queues without a reserved share |
/// | `wait:<class>:<key>` | list | parked jobs as `<queue>\n<payload>`, oldest first |
/// | `due` | zset | `<class>:<key>` of every non-empty waiting list, score = when a token frees |
/// | `hold:<key>` | string | held until (ms), set by a handler's "limited until" |
/// | `grant:<id>` | string | a token granted to a released job, consumed by its next fetch |
/// | `outbox` | zset | released jobs not yet back in their queue, `<grant>\n<queue>\n<payload>` |
/// | `known` | zset | budget keys seen, score = last use (ms) |
package struct RateLimiter: Sendable {
    /// The job type this limiter is for.
    public let type: String
    public let limit: RateLimit
    let keys: QueueKeyspace

    public init(type: String, limit: RateLimit, keys: QueueKeyspace) {
        self.type = type
        self.limit = limit
        self.keys = keys
    }

    /// What ``acquire(_:job:on:)`` decided.
    public enum Decision: Sendable, Equatable {
        /// Run it now.
        case admitted
        /// Parked in its budget's waiting list; a token frees in about this long.
        case parked(retryIn: Duration)
    }

    private var prefix: String { keys.limiter(type) }

    /// Asks for a token for `fetched` (a job of this limiter's type, in its consumer's in-flight list).
    /// When parked the job is no longer in flight.
    public func acquire(_ fetched: FetchedJob, job: Job, on redis: RedisConnection) throws(RedisError) -> Decision {
        try acquire([(fetched, job)], on: redis)[0]
    }

    /// Asks for tokens for several fetched jobs of this limiter's type in one round trip, in
    /// order (a worker's fetched batch). Parked jobs are no longer in flight.
    public func acquire(_ jobs: [(FetchedJob, Job)], on redis: RedisConnection) throws(RedisError) -> [Decision] {
        try decide(jobs, front: false, on: redis)
    }

    /// Holds the job's budget for the whole fleet for `holdFor` and puts the job back at the head
    /// of its waiting list, without spending an attempt: what a handler's `RateLimited` error does.
    public func putBack(_ fetched: FetchedJob, job: Job, holdFor: Duration, on redis: RedisConnection) throws(RedisError) {
        let key = limit.budgetKey(of: job.args)
        // A service's "retry after" is trusted for at most a day.
        let milliseconds = min(max(1, holdFor.wholeMilliseconds), 86_400_000)
        _ = try redis.run(RateLimitScripts.hold, keys: [.string(prefix + "hold:" + key)], arguments: [.string(String(milliseconds))])
        _ = try decide([(fetched, job)], front: true, on: redis)
    }

    private func decide(_ jobs: [(FetchedJob, Job)], front: Bool, on redis: RedisConnection) throws(RedisError) -> [Decision] {
        guard !jobs.isEmpty else { return [] }
        let shared = !limit.reserved.isEmpty
        var arguments: [RedisArgument] = [
            .string(prefix), .string(Self.format(limit.intervalMS)), .string(Self.format(limit.intervalMS * Double(limit.burst - 1))),
            .string(shared ? Self.format(limit.sharedIntervalMS) : ""), .string(shared ? Self.format(limit.sharedIntervalMS * Double(limit.sharedBurst - 1)) : ""),
            front ? "front" : "acquire",
        ]
        for (fetched, job) in jobs {
            var entry = Array(fetched.queue.utf8)
            entry.append(0x0A)
            entry += fetched.payload
            arguments += [.string(limit.budgetKey(of: job.args)), .string(limit.budgetClass(forQueue: fetched.queue)), .string(job.id), .bytes(entry)]
        }
        let replies = try redis.run(
            RateLimitScripts.acquire, keys: [.string(prefix + "due"), .string(prefix + "known")], arguments: arguments
        ).array ?? []
        var decisions: [Decision] = []
        var parked: [[RedisArgument]] = []
        for (index, (fetched, _)) in jobs.enumerated() {
            let values = index < replies.count ? replies[index].array?.compactMap(\.int) ?? [] : []
            if values.first == 1 {
                decisions.append(.admitted)
            } else {
                // Computed from state others can write: kept to 0 … 1 day.
                decisions.append(.parked(retryIn: .milliseconds(min(max(values.count > 1 ? values[1] : 0, 0), 86_400_000))))
                parked.append(["LREM", .string(keys.inflight(fetched.queue, consumer: fetched.consumer)), "-1", .bytes(fetched.payload)])
            }
        }
        // Parked (written to a waiting list): now they may leave the in-flight list.
        for reply in try redis.pipeline(parked) { try reply.check() }
        return decisions
    }

    /// Grants the tokens that have freed to the oldest waiting jobs (at most `maxJobs`) and puts
    /// them at the front of their queues. Returns how many went back, and how long until the next
    /// token frees for a waiting job (`nil`: nobody waits).
    @discardableResult
    public func release(maxJobs: Int = 200, on redis: RedisConnection) throws(RedisError) -> (released: Int, nextIn: Duration?) {
        let shared = !limit.reserved.isEmpty
        let reply = try redis.run(
            RateLimitScripts.release,
            keys: [.string(prefix + "due"), .string(prefix + "outbox"), .string(prefix + "grants")],
            arguments: [.string(prefix), .string(Self.format(limit.intervalMS)), .string(Self.format(limit.intervalMS * Double(limit.burst - 1))),
                        .string(shared ? Self.format(limit.sharedIntervalMS) : ""), .string(shared ? Self.format(limit.sharedIntervalMS * Double(limit.sharedBurst - 1)) : ""),
                        RedisArgument(maxJobs), "5000"]
        )
        let parts = reply.array ?? []
        let records = (parts.first?.array ?? []).compactMap(\.bytes)
        let wait = parts.count > 1 ? parts[1].int ?? -1 : -1
        try deliver(records, on: redis)
        return (records.count, wait >= 0 ? .milliseconds(min(wait, 86_400_000)) : nil)
    }

    /// Pushes released records (`<grant>\n<queue>\n<payload>`) to the front of their queues,
    /// first released taken first, then takes them out of the outbox.
    private func deliver(_ records: [[UInt8]], on redis: RedisConnection) throws(RedisError) {
        guard !records.isEmpty else { return }
        var byQueue: [(queue: String, arguments: [RedisArgument])] = []
        for record in records {
            guard let first = record.firstIndex(of: 0x0A), let second = record[(first + 1)...].firstIndex(of: 0x0A) else { continue }
            let grant = String(decoding: record[..<first], as: UTF8.self)
            let queue = String(decoding: record[(first + 1)..<second], as: UTF8.self)
            let payload = Array(record[(second + 1)...])
            if let index = byQueue.firstIndex(where: { $0.queue == queue }) {
                byQueue[index].arguments += [.string(grant), .bytes(payload)]
            } else {
                byQueue.append((queue, [.string(keys.granted(queue) + type + ":"), .string(grant), .bytes(payload)]))
            }
        }
        for group in byQueue {
            _ = try redis.run(RateLimitScripts.admit, keys: [.string(keys.ready(group.queue))], arguments: group.arguments)
        }
        _ = try redis.command(["ZREM", .string(prefix + "outbox")] + records.map { .bytes($0) })
    }

    /// Publishes this limiter's settings for `ferry stats`, the admin API and `/metrics`.
    public func register(on redis: RedisConnection) throws(RedisError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(limit)).map { Array($0) } ?? []
        _ = try redis.command("HSET", .string(keys.limiters), .string(type), .bytes(json))
    }

    static func format(_ milliseconds: Double) -> String { String(format: "%.3f", milliseconds) }
}

/// The scripts of ``RateLimiter``. Times are milliseconds by the server's clock, kept with
/// three decimals.
enum RateLimitScripts {
    static let helpers = QueueScripts.helpers + """
        local function fmt(x) return string.format('%.3f', x) end
        local function number(value) return tonumber(value or '0') or 0 end
        -- Earliest time a job of the budget may start: GCRA on the whole budget, on the shared
        -- part when `shared`, and the hold.
        local function free_at(tat, tat2, tau, tau2, held)
          local at = tat - tau
          if tat2 then at = math.max(at, tat2 - tau2) end
          return math.max(at, held)
        end
        local function take(key, tat, interval, now)
          redis.call('SET', key, fmt(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
        end

        """

    /// KEYS: due, known. ARGV: key prefix, interval, tau, shared interval and tau ("" without
    /// reserves), mode (`acquire`, or `front`: back to the head of the line), then per job: budget
    /// key, class, job id, entry. Returns per job {1, 0} admitted, or {0, ms until a token frees}
    /// parked.
    static let acquire = RedisScript(name: "limit_acquire", source: helpers + """
        local now = now_ms()
        local P = ARGV[1]
        local interval, tau = tonumber(ARGV[2]), tonumber(ARGV[3])
        local has_shared = ARGV[4] ~= ''
        local interval2, tau2 = tonumber(ARGV[4]), tonumber(ARGV[5])
        local front = ARGV[6] == 'front'
        local out = {}
        for i = 7, #ARGV - 3, 4 do
          local key, class, id, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
          local decision = nil
          if not front and redis.call('DEL', P .. 'grant:' .. id) == 1 then decision = {1, 0} end
          if not decision then
            redis.call('ZADD', KEYS[2], now, key)
            local tat = math.max(number(redis.call('GET', P .. 'tat:' .. key)), now)
            local tat2 = nil
            if has_shared and class == '*' then tat2 = math.max(number(redis.call('GET', P .. 'tat*:' .. key)), now) end
            local at = free_at(tat, tat2, tau, tau2, number(redis.call('GET', P .. 'hold:' .. key)))
            local list = P .. 'wait:' .. class .. ':' .. key
            if not front and at <= now and redis.call('LLEN', list) == 0 then
              take(P .. 'tat:' .. key, tat, interval, now)
              if tat2 then take(P .. 'tat*:' .. key, tat2, interval2, now) end
              decision = {1, 0}
            else
              if front then redis.call('LPUSH', list, entry) else redis.call('RPUSH', list, entry) end
              at = math.max(at, now)
              redis.call('ZADD', KEYS[1], 'LT', fmt(at), class .. ':' .. key)
              decision = {0, math.ceil(at - now)}
            end
          end
          out[#out + 1] = decision
        end
        return out
        """)

    /// KEYS: due, outbox, grants counter. ARGV: key prefix, interval, tau, shared interval ("" when
    /// no reserves), shared tau, most jobs to release, age (ms) after which an outbox record is
    /// delivered again. Returns {records, ms until the next token frees or -1}.
    static let release = RedisScript(name: "limit_release", source: helpers + """
        local now = now_ms()
        local P = ARGV[1]
        local interval, tau = tonumber(ARGV[2]), tonumber(ARGV[3])
        local has_shared = ARGV[4] ~= ''
        local interval2, tau2 = tonumber(ARGV[4]), tonumber(ARGV[5])
        local budget = tonumber(ARGV[6])
        local members = redis.call('ZRANGE', KEYS[1], '-inf', fmt(now), 'BYSCORE', 'LIMIT', 0, 100)
        -- Reserved queues first: their share must not wait behind the shared part.
        table.sort(members, function(a, b)
          local sa, sb = string.sub(a, 1, 2) == '*:', string.sub(b, 1, 2) == '*:'
          if sa ~= sb then return sb end
          return a < b
        end)
        local out = {}
        for _, member in ipairs(members) do
          local colon = string.find(member, ':', 1, true)
          local class, key = string.sub(member, 1, colon - 1), string.sub(member, colon + 1)
          local list = P .. 'wait:' .. class .. ':' .. key
          local shared = class == '*' and has_shared
          while true do
            local entry = redis.call('LINDEX', list, 0)
            if not entry then
              redis.call('ZREM', KEYS[1], member)
              break
            end
            local tat = math.max(number(redis.call('GET', P .. 'tat:' .. key)), now)
            local tat2 = nil
            if shared then tat2 = math.max(number(redis.call('GET', P .. 'tat*:' .. key)), now) end
            local at = free_at(tat, tat2, tau, tau2, number(redis.call('GET', P .. 'hold:' .. key)))
            if at > now or budget <= 0 then
              redis.call('ZADD', KEYS[1], fmt(math.max(at, now)), member)
              break
            end
            take(P .. 'tat:' .. key, tat, interval, now)
            if tat2 then take(P .. 'tat*:' .. key, tat2, interval2, now) end
            redis.call('LPOP', list)
            local newline = string.find(entry, '\\n', 1, true)
            local id = id_of(decode_job(string.sub(entry, newline + 1)))
            if id then redis.call('SET', P .. 'grant:' .. id, '1', 'PX', 3600000) end
            local record = redis.call('INCR', KEYS[3]) .. '\\n' .. entry
            redis.call('ZADD', KEYS[2], now, record)
            out[#out + 1] = record
            budget = budget - 1
          end
        end
        -- Records a releaser did not deliver (it died between the two steps) go out again.
        for _, record in ipairs(redis.call('ZRANGE', KEYS[2], '-inf', '(' .. fmt(now - tonumber(ARGV[7])), 'BYSCORE', 'LIMIT', 0, 100)) do
          redis.call('ZADD', KEYS[2], now, record)
          out[#out + 1] = record
        end
        local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        local wait = -1
        if first[2] then wait = math.max(0, math.ceil(tonumber(first[2]) - now)) end
        return {out, wait}
        """)

    /// Puts released jobs at the front of a queue, each grant once. KEYS: ready. ARGV: granted-key
    /// prefix, then grant and payload pairs in release order (the first is taken first).
    static let admit = RedisScript(name: "limit_admit", source: """
        local n = 0
        for i = #ARGV - 1, 2, -2 do
          if redis.call('SET', ARGV[1] .. ARGV[i], '1', 'NX', 'PX', 3600000) then
            redis.call('RPUSH', KEYS[1], ARGV[i + 1])
            n = n + 1
          end
        end
        return n
        """)

    /// Holds a budget. KEYS: hold. ARGV: ms from now. Returns ms until the hold ends.
    static let hold = RedisScript(name: "limit_hold", source: helpers + """
        local now = now_ms()
        local ends = now + tonumber(ARGV[1])
        local held = number(redis.call('GET', KEYS[1]))
        if ends > held then redis.call('SET', KEYS[1], fmt(ends), 'PX', ARGV[1]) end
        return math.ceil(math.max(ends, held) - now)
        """)
}
