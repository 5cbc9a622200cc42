public import FerryRedis
import FerrySupport
import Foundation

/// The state of one rate limiter: its settings and, per budget key in use, what is free and
/// who waits.
public struct RateLimiterStatus: Sendable, Equatable, Codable {
    /// One budget (one value of the key argument, `-` without a key).
    public struct Budget: Sendable, Equatable, Codable {
        public var key: String
        /// Jobs that could start at once now (0 … burst).
        public var available: Int
        /// Parked jobs waiting for a token, all classes.
        public var waiting: Int
        /// Unix seconds until which a handler's "limited until" holds the budget, if it does.
        public var heldUntil: Double?

        enum CodingKeys: String, CodingKey {
            case key, available, waiting
            case heldUntil = "held_until"
        }
    }

    public var type: String
    public var limit: RateLimit
    /// Parked jobs waiting for a token, all budgets.
    public var waiting: Int
    /// The budgets used in the last hour, most recent first, and those with parked jobs (at most 100 each).
    public var budgets: [Budget]
}

/// Reads the state of every rate limiter the workers have published (``RateLimiter/register(on:)``).
public struct RateLimits: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Every limiter, by job type.
    public func status(on redis: RedisConnection) throws(RedisError) -> [RateLimiterStatus] {
        let fields = try redis.command("HGETALL", .string(keys.limiters)).array ?? []
        let time = try redis.command("TIME").array ?? []
        let seconds = time.first.flatMap { $0.bytes.flatMap { Double(String(decoding: $0, as: UTF8.self)) } } ?? Date().timeIntervalSince1970
        let micros = time.count > 1 ? time[1].bytes.flatMap { Double(String(decoding: $0, as: UTF8.self)) } ?? 0 : 0
        var now = seconds * 1000 + micros / 1000
        if !(now.isFinite && now > 0 && now < 253_402_300_799_000) { now = Date().timeIntervalSince1970 * 1000 }
        var limiters: [RateLimiterStatus] = []
        var index = 0
        while index + 1 < fields.count {
            defer { index += 2 }
            // Written by workers, but anyone can write the hash: only limits that pass the same
            // checks as a settings file are read.
            guard let type = fields[index].string, let json = fields[index + 1].bytes,
                  let decoded = try? JSONDecoder().decode(RateLimit.self, from: Data(json)),
                  (1...86_400_000).contains(decoded.periodMS),
                  let limit = try? RateLimit(limit: decoded.limit, period: .milliseconds(decoded.periodMS), burst: decoded.burst, key: decoded.key,
                                             reserved: decoded.reserved)
            else { continue }
            limiters.append(try status(of: type, limit: limit, now: now, on: redis))
        }
        return limiters.sorted { $0.type < $1.type }
    }

    private func status(of type: String, limit: RateLimit, now: Double, on redis: RedisConnection) throws(RedisError) -> RateLimiterStatus {
        let prefix = keys.limiter(type)
        let recent = try redis.command(
            "ZRANGE", .string(prefix + "known"), "+inf", .string(String(Int64(now) - 3_600_000)), "BYSCORE", "REV", "LIMIT", "0", "100"
        ).array?.compactMap(\.string) ?? []
        // Budgets with parked jobs, however long ago they were last used.
        let parked = (try redis.command("ZRANGE", .string(prefix + "due"), "0", "99").array ?? []).compactMap { member -> String? in
            guard let text = member.string, let colon = text.firstIndex(of: ":") else { return nil }
            return String(text[text.index(after: colon)...])
        }
        var seen = Set<String>()
        let inUse = (recent + parked).filter { seen.insert($0).inserted }
        let classes = [RateLimit.sharedClass] + limit.reserved.keys.sorted()
        var budgets: [RateLimiterStatus.Budget] = []
        for key in inUse {
            var commands: [[RedisArgument]] = [["GET", .string(prefix + "tat:" + key)], ["GET", .string(prefix + "hold:" + key)]]
            commands += classes.map { ["LLEN", .string(prefix + "wait:\($0):" + key)] }
            let replies = try redis.pipeline(commands)
            // Values others could have written: anything not a finite time counts as none.
            func time(_ reply: RedisReply) -> Double? { reply.string.flatMap(Double.init).flatMap { $0.isFinite && $0 < 1e15 ? $0 : nil } }
            let tat = max(time(replies[0]) ?? 0, now)
            let tau = limit.intervalMS * Double(limit.burst - 1)
            let free = ((tau - (tat - now)) / limit.intervalMS).rounded(.down) + 1
            let available = free.isFinite ? Int(min(max(free, 0), Double(limit.burst))) : 0
            let held = time(replies[1]).flatMap { $0 > now ? $0 / 1000 : nil }
            let waiting = replies[2...].reduce(0) { $0 + min(max($1.int ?? 0, 0), 1 << 40) }
            budgets.append(.init(key: key, available: held == nil ? available : 0, waiting: waiting, heldUntil: held))
        }
        // Old budgets are forgotten from the list of those in use.
        _ = try redis.command("ZREMRANGEBYSCORE", .string(prefix + "known"), "-inf", .string("(" + String(Int64(now) - 86_400_000)))
        return RateLimiterStatus(type: type, limit: limit, waiting: budgets.reduce(0) { $0 + $1.waiting }, budgets: budgets)
    }
}
