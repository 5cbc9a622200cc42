import Ferry
public import FerryPostgres
public import FerryWorker
public import FerryQueue
public import Foundation

/// `mining.rewards`: credits each active miner for the time since its last credit.
///
/// amount = base rate (tokens per hour per unit of mining power) × mining power × streak
/// multiplier × hours elapsed (capped), rounded to 8 decimals. A miner is active when its last
/// heartbeat is within `active_window`. The streak counts consecutive UTC days with a credit; a
/// missed day resets it. Parameters come from `jobs/mining.rewards.yml`.
///
/// Never pays twice: every credit is one ledger row under the unique key
/// `mining:<user>:<period end>`, inserted in the same transaction that updates the balance and
/// `last_credited_at`; rows are taken `FOR UPDATE SKIP LOCKED`, so runs at once split the miners,
/// and the elapsed time is read under that lock, so overlapping periods are not paid twice.
public struct MiningRewards: JobHandler {
    public static let type = "mining.rewards"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "maintenance", maxAttempts: 5, timeout: .seconds(600))

    public init() {}

    /// The reward formula's parameters.
    public struct Parameters: Sendable, Equatable {
        public var baseRatePerHour: Decimal = Decimal(string: "0.25")!
        public var activeWindow: Duration = .seconds(900)
        /// Elapsed time paid at most per credit (a miner back after days is not paid for days).
        public var maxElapsed: Duration = .seconds(3600)
        /// Elapsed time of a miner's first credit.
        public var firstPeriod: Duration = .seconds(600)
        /// Multiplier = 1 + streakStep × min(streak days − 1, streakCap).
        public var streakStep: Decimal = Decimal(string: "0.1")!
        public var streakCap: Int = 10
        public var batchSize: Int = 1000

        public init() {}

        /// Reads `parameters:` of the job's settings; unknown or malformed values are errors.
        public init(_ values: [String: JSONValue]) throws {
            for (name, value) in values {
                switch name {
                case "base_rate_per_hour": baseRatePerHour = try Self.decimal(value, name)
                case "streak_step": streakStep = try Self.decimal(value, name)
                case "streak_cap": streakCap = try Self.int(value, name)
                case "batch_size": batchSize = try Self.int(value, name)
                case "active_window_s": activeWindow = .seconds(try Self.int(value, name))
                case "max_elapsed_s": maxElapsed = .seconds(try Self.int(value, name))
                case "first_period_s": firstPeriod = .seconds(try Self.int(value, name))
                default: throw PermanentJobError("unknown mining.rewards parameter '\(name)'")
                }
            }
        }

        static func decimal(_ value: JSONValue, _ name: String) throws -> Decimal {
            // Decimal strings keep exact values; numbers in YAML are doubles, so they are refused.
            guard let text = value.string, let parsed = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), parsed >= 0 else {
                throw PermanentJobError("\(name) must be a non-negative decimal written as a string, like \"0.25\"")
            }
            return parsed
        }

        static func int(_ value: JSONValue, _ name: String) throws -> Int {
            guard let number = value.int, number > 0 else { throw PermanentJobError("\(name) must be a positive whole number") }
            return number
        }
    }

    /// What one run did.
    public struct Credited: Sendable, Equatable {
        public var miners = 0
        public var tokens = Decimal(0)
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let parameters = try Parameters(context.settings.parameters)
        let periodEnd = context.job.tick.map { Date(timeIntervalSince1970: $0) } ?? Date()
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let credited = try pool.withConnection { connection in
            try Self.credit(periodEnd: periodEnd, parameters: parameters, on: connection) { credited in
                context.reportProgress(done: credited.miners, message: "miners credited")
                try context.checkCancellation()
            }
        }
        context.logger.log(level: credited.miners > 0 ? .info : .debug, "credited miners", metadata: ["miners": "\(credited.miners)", "tokens": "\(credited.tokens)"])
    }

    /// The next batch of active miners not yet credited for this period, locked for this run.
    static let selectBatch = """
        SELECT user_id, mining_power::text AS power, last_credited_at, streak_days,
               last_active_day::text AS last_active_day
        FROM mining_progress
        WHERE last_heartbeat_at >= $1
          AND (last_credited_at IS NULL OR last_credited_at < $2)
          AND user_id > $3
        ORDER BY user_id
        LIMIT $4
        FOR UPDATE SKIP LOCKED
        """

    /// One ledger row per credit; a period already paid conflicts and is left out.
    static let insertLedger = """
        INSERT INTO token_ledger (user_id, amount, reason, period_start, period_end, idempotency_key)
        SELECT user_id, amount, 'mining', period_start, $4, 'mining:' || user_id || ':' || $5
        FROM unnest($1::bigint[], $2::numeric[], $3::timestamptz[]) AS credit (user_id, amount, period_start)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING user_id, amount::text AS amount
        """

    static let addToBalances = """
        INSERT INTO token_balances (user_id, balance)
        SELECT user_id, amount FROM unnest($1::bigint[], $2::numeric[]) AS credit (user_id, amount)
        ON CONFLICT (user_id) DO UPDATE
        SET balance = token_balances.balance + EXCLUDED.balance, updated_at = now()
        """

    static let markCredited = """
        UPDATE mining_progress AS progress
        SET last_credited_at = $4, streak_days = credit.streak, last_active_day = credit.day
        FROM unnest($1::bigint[], $2::int[], $3::date[]) AS credit (user_id, streak, day)
        WHERE progress.user_id = credit.user_id
        """

    /// Credits every active miner for the period ending at `periodEnd`, a batch per transaction.
    public static func credit(
        periodEnd: Date, parameters: Parameters, on connection: PostgresConnection,
        afterBatch: (Credited) throws -> Void = { _ in }
    ) throws -> Credited {
        let activeSince = periodEnd.addingTimeInterval(-seconds(parameters.activeWindow))
        let periodKey = String(Int64((periodEnd.timeIntervalSince1970 * 1000).rounded()))
        let today = Self.day(periodEnd)
        let yesterday = Self.day(periodEnd.addingTimeInterval(-86400))
        var total = Credited()
        var cursor = 0
        while true {
            let batch = try connection.transaction { tx -> (count: Int, last: Int, credited: Credited) in
                let rows = try tx.query(selectBatch, [activeSince, periodEnd, cursor, parameters.batchSize]).rows
                guard !rows.isEmpty else { return (0, cursor, Credited()) }
                var users: [String] = [], amounts: [String] = [], starts: [String] = []
                var streaks: [String] = [], days: [String] = []
                for row in rows {
                    let user = try row.decode("user_id", as: Int.self)
                    let power = try row.decode("power", as: String.self)
                    let lastCredited = try row.decode("last_credited_at", as: Date?.self)
                    let lastDay = try row.decode("last_active_day", as: String?.self)
                    let previousStreak = try row.decode("streak_days", as: Int.self)
                    let start = max(lastCredited ?? periodEnd.addingTimeInterval(-seconds(parameters.firstPeriod)),
                                    periodEnd.addingTimeInterval(-seconds(parameters.maxElapsed)))
                    let streak = lastDay == today ? max(previousStreak, 1) : (lastDay == yesterday ? previousStreak + 1 : 1)
                    let multiplier = 1 + parameters.streakStep * Decimal(min(streak - 1, parameters.streakCap))
                    // Multiply first, divide last: the division is the only inexact step.
                    let milliseconds = Decimal(Int64((periodEnd.timeIntervalSince(start) * 1000).rounded()))
                    var amount = parameters.baseRatePerHour * Decimal(string: power)! * multiplier * milliseconds / 3_600_000
                    var rounded = Decimal()
                    NSDecimalRound(&rounded, &amount, 8, .plain)
                    users.append(String(user))
                    amounts.append(NSDecimalNumber(decimal: rounded).description(withLocale: Locale(identifier: "en_US_POSIX")))
                    starts.append("\"" + (start.postgresText ?? "") + "\"")
                    streaks.append(String(streak))
                    days.append(today)
                }
                let inserted = try tx.query(insertLedger, [array(users), array(amounts), array(starts), periodEnd, periodKey]).rows
                var credited = Credited()
                if !inserted.isEmpty {
                    let paidUsers = try inserted.map { String(try $0.decode("user_id", as: Int.self)) }
                    let paidAmounts = try inserted.map { try $0.decode("amount", as: String.self) }
                    try tx.query(addToBalances, [array(paidUsers), array(paidAmounts)])
                    credited.miners = inserted.count
                    credited.tokens = paidAmounts.reduce(Decimal(0)) { $0 + Decimal(string: $1)! }
                }
                try tx.query(markCredited, [array(users), array(streaks), array(days), periodEnd])
                return (rows.count, try rows.last!.decode("user_id", as: Int.self), credited)
            }
            total.miners += batch.credited.miners
            total.tokens += batch.credited.tokens
            cursor = batch.last
            try afterBatch(total)
            if batch.count < parameters.batchSize { return total }
        }
    }

    /// A PostgreSQL array literal of already-safe elements (numbers, quoted timestamps, dates).
    static func array(_ elements: [String]) -> String { "{" + elements.joined(separator: ",") + "}" }

    static func day(_ date: Date) -> String {
        String((date.postgresText ?? "").prefix(10))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
