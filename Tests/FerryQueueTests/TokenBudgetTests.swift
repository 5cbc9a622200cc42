import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Token-bucket budgets against the test Redis: all-or-nothing spends, continuous refill at the
/// paced rate, no burst past a second's worth, corrections, and the service's announced limits
/// followed both ways up to the ceiling.
@Suite struct TokenBudgetTests {
    let keys = QueueKeyspace(namespace: "budget-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    func budget(requests: Int64 = 60, window: Duration = .seconds(60), pacing: TokenBudget.Pacing = .standard, ceilings: [String: Int64] = [:]) throws -> TokenBudget {
        TokenBudget(scope: "model-\(UUID().uuidString.prefix(6))", measures: [
            try .init("requests", limit: requests, window: window),
            try .init("input_tokens", limit: 6000, window: window),
        ], pacing: pacing, ceilings: ceilings, keys: keys)
    }

    func state(_ budget: TokenBudget, _ measure: String) throws -> TokenBudget.State {
        try #require(try budget.state(on: redis).first { $0.measure == measure })
    }

    @Test func spendsAreAllOrNothingAndRefusalsSayHowLongUntilEnoughRefills() throws {
        // 6,000 input tokens a minute: a bucket of 100 (a second's worth), refilled at 95 a second.
        let budget = try budget(requests: 600)
        guard case .granted = try budget.spend(["requests": 1, "input_tokens": 60], on: redis) else { Issue.record("refused"); return }
        // Requests have room, input tokens do not (40 left of 100): nothing is spent, and the wait is the refill of 20 more.
        guard case .wait(let retryIn, let measure) = try budget.spend(["requests": 1, "input_tokens": 60], on: redis) else { Issue.record("granted"); return }
        #expect(measure == "input_tokens")
        #expect(retryIn > .milliseconds(150) && retryIn <= .milliseconds(215), "\(retryIn)")
        let tokens = try state(budget, "input_tokens")
        #expect(tokens.capacity == 100 && tokens.level >= 40 && tokens.level < 45 && tokens.limit == 6000 && !tokens.announced, "\(tokens)")
        #expect(try state(budget, "requests").level < 9.5, "the request refused was not given back")
        // More than the limit per window can never be granted; more than a bucket, from a full one.
        #expect(try budget.spend(["input_tokens": 7000], on: redis) == .tooLarge(measure: "input_tokens", amount: 7000, limit: 6000))
        #expect(throws: RateLimit.Invalid.self) { try TokenBudget.Measure("bad name", limit: 1, window: .seconds(1)) }
        #expect(throws: RateLimit.Invalid.self) { try TokenBudget.Measure("requests", limit: 0, window: .seconds(1)) }
        #expect(throws: RateLimit.Invalid.self) { try TokenBudget.Pacing(pace: 0.2) }
        #expect(throws: RateLimit.Invalid.self) { try TokenBudget.Pacing(pace: .nan) }
    }

    @Test func spendsLeaveEvenlyAndNoWindowHoldsMoreThanTheLimit() throws {
        // 20 requests per 2 s, bursts of 100 ms (1 request): 18 per 2 s, one every 111 ms.
        let budget = try budget(requests: 20, window: .seconds(2), pacing: try TokenBudget.Pacing(pace: 0.95, burst: .milliseconds(100)))
        var granted: [ContinuousClock.Instant] = []
        while granted.count < 30 {
            switch try budget.spend(["requests": 1], on: redis) {
            case .granted: granted.append(.now)
            case .wait(let retryIn, _):
                #expect(retryIn <= .milliseconds(120))
                Thread.sleep(forTimeInterval: Double(retryIn.components.attoseconds) / 1e18 + Double(retryIn.components.seconds))
            case .tooLarge: Issue.record("too large")
            }
        }
        // However the 2-s window is laid, it holds at most 20 — the bucket allows no burst to add to the refill.
        for (index, instant) in granted.enumerated() where index + 20 < granted.count {
            #expect(granted[index + 20] - instant >= .milliseconds(1990), "21 spends within \(granted[index + 20] - instant)")
        }
        // And no two in a row closer than the refill of one (less the scheduler's jitter).
        for (earlier, later) in zip(granted.dropFirst(), granted.dropFirst(2)) {
            #expect(later - earlier >= .milliseconds(90), "\(later - earlier)")
        }
    }

    @Test func correctionsGiveBackAndTakeWhatTheEstimateMissed() throws {
        let budget = try budget()
        guard case .granted(let reservation) = try budget.spend(["requests": 1, "input_tokens": 90], on: redis) else { Issue.record("refused"); return }
        // The estimate was 90; the response said 30: 60 go back (the bucket holds at most 100).
        try budget.correct(reservation, to: ["input_tokens": 30], on: redis)
        #expect(try state(budget, "input_tokens").level >= 70)
        guard case .granted(let second) = try budget.spend(["input_tokens": 60], on: redis) else { Issue.record("refused after correcting"); return }
        // An estimate too low: the rest is taken, and the bucket goes into debt.
        try budget.correct(second, to: ["input_tokens": 200], on: redis)
        #expect(try state(budget, "input_tokens").level < -100)
        guard case .wait = try budget.spend(["input_tokens": 1], on: redis) else { Issue.record("granted from a bucket in debt"); return }
    }

    @Test func theAnnouncedLimitIsFollowedBothWaysUpToTheCeiling() throws {
        // Configured at 60 a minute (a bucket of 1); the service announces 600 (a bucket of 10).
        let budget = try budget(ceilings: ["requests": 1200])
        try budget.sync("requests", remaining: nil, limit: 600, on: redis)
        var requests = try state(budget, "requests")
        #expect(requests.limit == 600 && requests.announced && requests.capacity == 10, "\(requests)")
        var burst = 0
        while case .granted = try budget.spend(["requests": 1], on: redis), burst < 50 { burst += 1 }
        #expect(burst == 10, "a full bucket of the announced limit lets 10 out at once, got \(burst)")
        // Announced higher than the ceiling: the ceiling holds.
        try budget.sync("requests", remaining: nil, limit: 100_000, on: redis)
        requests = try state(budget, "requests")
        #expect(requests.limit == 1200 && requests.capacity == 20, "\(requests)")
        // Lowered: followed at once, and what the service says is left bounds the bucket.
        try budget.sync("requests", remaining: 0, limit: 120, on: redis)
        requests = try state(budget, "requests")
        #expect(requests.limit == 120 && requests.capacity == 2 && requests.level <= 0.1, "\(requests)")
        guard case .wait(let retryIn, "requests") = try budget.spend(["requests": 1], on: redis) else { Issue.record("granted past the service's view"); return }
        // 120 a minute at 95%: one request refills in 526 ms.
        #expect(retryIn >= .milliseconds(400) && retryIn <= .milliseconds(530), "\(retryIn)")
        // Numbers from outside that make no sense are not followed.
        try budget.sync("requests", remaining: -5, limit: 0, on: redis)
        try budget.sync("requests", remaining: nil, limit: -1, on: redis)
        #expect(try state(budget, "requests").limit == 120)
        // A view with more left than the bucket holds changes nothing.
        try budget.sync("input_tokens", remaining: 1_000_000, limit: nil, on: redis)
        #expect(try state(budget, "input_tokens").level == 100)
    }
}
