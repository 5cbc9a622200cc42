package import FerryRedis
package import Foundation
import FerrySupport

/// How the jobs of each type ended, per minute and per hour: what the dashboard's health table
/// and throughput chart read. Worker processes count outcomes in memory and add them here with
/// every heartbeat (never per job), into one hash per minute (kept 2 hours) and one per hour
/// (kept 26 hours), fields `<type>|s` (succeeded), `<type>|f` (failed attempts that will be
/// retried) and `<type>|d` (attempts that ended in the dead set).
package struct TypeHealth: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Outcomes of one type.
    public struct Counts: Sendable, Equatable, Codable {
        public var succeeded: Int
        public var retried: Int
        public var dead: Int

        public init(succeeded: Int = 0, retried: Int = 0, dead: Int = 0) {
            self.succeeded = succeeded
            self.retried = retried
            self.dead = dead
        }

        /// Attempts that ended, successful or not.
        public var attempts: Int { succeeded.addingSaturating(retried).addingSaturating(dead) }
        /// Succeeded attempts among all, nil when there were none.
        public var successRate: Double? { attempts == 0 ? nil : Double(succeeded) / Double(attempts) }

        /// Held at `Int.max` rather than trapping: the counts come from hashes anyone can write.
        public static func + (left: Counts, right: Counts) -> Counts {
            Counts(succeeded: left.succeeded.addingSaturating(right.succeeded), retried: left.retried.addingSaturating(right.retried),
                   dead: left.dead.addingSaturating(right.dead))
        }
    }

    /// Adds `counts` (by type) to the buckets of `now`, in one round trip.
    public func record(_ counts: [String: Counts], at now: Date = Date(), on redis: RedisConnection) throws(RedisError) {
        guard !counts.isEmpty else { return }
        let seconds = Int64(now.timeIntervalSince1970)
        let minute = keys.health(minute: seconds / 60), hour = keys.health(hour: seconds / 3600)
        var commands: [[RedisArgument]] = []
        for key in [minute, hour] {
            for (type, count) in counts {
                for (suffix, value) in [("s", count.succeeded), ("f", count.retried), ("d", count.dead)] where value > 0 {
                    commands.append(["HINCRBY", .string(key), .string("\(type)|\(suffix)"), RedisArgument(value)])
                }
            }
        }
        commands.append(["EXPIRE", .string(minute), "7200"])
        commands.append(["EXPIRE", .string(hour), "93600"])
        _ = try redis.pipeline(commands)
    }

    /// What the last hour and the last day looked like.
    public struct Summary: Sendable, Equatable {
        /// Per type: the last 60 minutes and the last 24 hours (the current minute and hour included).
        public var lastHour: [String: Counts]
        public var lastDay: [String: Counts]
        /// Per minute of the last hour, oldest first: the minute (Unix seconds) and all types' outcomes.
        public var minutes: [(at: Double, counts: Counts)]

        public static func == (left: Summary, right: Summary) -> Bool {
            left.lastHour == right.lastHour && left.lastDay == right.lastDay
                && left.minutes.map(\.at) == right.minutes.map(\.at) && left.minutes.map(\.counts) == right.minutes.map(\.counts)
        }
    }

    /// Reads 60 minute and 24 hour buckets in one round trip.
    public func summary(at now: Date = Date(), on redis: RedisConnection) throws(RedisError) -> Summary {
        let seconds = Int64(now.timeIntervalSince1970)
        let minutes = (0..<60).map { seconds / 60 - 59 + Int64($0) }
        let hours = (0..<24).map { seconds / 3600 - 23 + Int64($0) }
        let replies = try redis.pipeline(minutes.map { ["HGETALL", .string(keys.health(minute: $0))] } + hours.map { ["HGETALL", .string(keys.health(hour: $0))] })
        func parse(_ reply: RedisReply) -> [String: Counts] {
            var counts: [String: Counts] = [:]
            let items = reply.array ?? []
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                guard let field = items[index].string, let bar = field.lastIndex(of: "|"),
                      let value = items[index + 1].string.flatMap({ Int($0) }), (0...(1 << 50)).contains(value) else { continue }
                let type = String(field[..<bar])
                switch field[field.index(after: bar)...] {
                case "s": counts[type, default: Counts()] = counts[type, default: Counts()] + Counts(succeeded: value)
                case "f": counts[type, default: Counts()] = counts[type, default: Counts()] + Counts(retried: value)
                case "d": counts[type, default: Counts()] = counts[type, default: Counts()] + Counts(dead: value)
                default: break
                }
            }
            return counts
        }
        var lastHour: [String: Counts] = [:], lastDay: [String: Counts] = [:]
        var series: [(at: Double, counts: Counts)] = []
        for (index, minute) in minutes.enumerated() {
            let counts = parse(replies[index])
            lastHour.merge(counts, uniquingKeysWith: +)
            series.append((Double(minute * 60), counts.values.reduce(Counts(), +)))
        }
        for index in hours.indices { lastDay.merge(parse(replies[minutes.count + index]), uniquingKeysWith: +) }
        return Summary(lastHour: lastHour, lastDay: lastDay, minutes: series)
    }
}
