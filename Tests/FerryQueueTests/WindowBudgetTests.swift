import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Sliding-window budgets against the test Redis: all-or-nothing spends, waits until the oldest
/// spends leave the window, corrections, and the service's own view.
@Suite struct WindowBudgetTests {
    let keys = QueueKeyspace(namespace: "budget-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    func budget(window: Duration = .seconds(60)) throws -> WindowBudget {
        WindowBudget(scope: "model-a", measures: [
            try .init("requests", limit: 3, window: window),
            try .init("input_tokens", limit: 1000, window: window),
        ], keys: keys)
    }

    @Test func spendsAreAllOrNothingAndRefusalsSayHowLongToWait() throws {
        let budget = try budget()
        guard case .granted = try budget.spend(["requests": 1, "input_tokens": 600], on: redis) else { Issue.record("refused"); return }
        // Requests have room, input tokens do not: nothing is spent, and the wait is until the first spend leaves (~60 s).
        guard case .wait(let retryIn, let measure) = try budget.spend(["requests": 1, "input_tokens": 500], on: redis) else { Issue.record("granted"); return }
        #expect(measure == "input_tokens")
        #expect(retryIn > .seconds(55) && retryIn <= .seconds(60), "\(retryIn)")
        #expect(try budget.usage(on: redis).map(\.used) == [1, 600])
        guard case .granted = try budget.spend(["requests": 1, "input_tokens": 400], on: redis) else { Issue.record("refused"); return }
        #expect(try budget.spend(["input_tokens": 5000], on: redis) == .tooLarge(measure: "input_tokens", amount: 5000, limit: 1000))
        #expect(throws: RateLimit.Invalid.self) { try WindowBudget.Measure("bad name", limit: 1, window: .seconds(1)) }
        #expect(throws: RateLimit.Invalid.self) { try WindowBudget.Measure("requests", limit: 0, window: .seconds(1)) }
    }

    @Test func noWindowHoldsMoreThanTheLimit() throws {
        let budget = try budget(window: .milliseconds(400))
        var granted: [ContinuousClock.Instant] = []
        let start = ContinuousClock.now
        while granted.count < 9 {
            switch try budget.spend(["requests": 1, "input_tokens": 10], on: redis) {
            case .granted: granted.append(.now)
            case .wait(let retryIn, _):
                #expect(retryIn <= .milliseconds(400))
                Thread.sleep(forTimeInterval: Double(retryIn.components.attoseconds) / 1e18 + Double(retryIn.components.seconds))
            case .tooLarge: Issue.record("too large")
            }
        }
        // Three per 400 ms: nine take at least two full windows, and no 400-ms window holds four.
        #expect(ContinuousClock.now - start >= .milliseconds(790))
        for (index, instant) in granted.enumerated() where index + 3 < granted.count {
            #expect(granted[index + 3] - instant >= .milliseconds(390), "spends \(index) and \(index + 3) in one window")
        }
    }

    @Test func correctionsAndTheServicesViewMoveWhatIsLeft() throws {
        let budget = try budget()
        guard case .granted(let reservation) = try budget.spend(["requests": 1, "input_tokens": 900], on: redis) else { Issue.record("refused"); return }
        // The estimate was 900; the response said 250.
        try budget.correct(reservation, to: ["input_tokens": 250], on: redis)
        #expect(try budget.usage(on: redis).map(\.used) == [1, 250])
        guard case .granted = try budget.spend(["requests": 1, "input_tokens": 700], on: redis) else { Issue.record("refused after correcting"); return }
        // The service says only one request is left for the next 2 s (others share the account).
        try budget.sync("requests", remaining: 0, resetsAt: Date().addingTimeInterval(2), on: redis)
        guard case .wait(let retryIn, "requests") = try budget.spend(["requests": 1], on: redis) else { Issue.record("granted past the service's view"); return }
        #expect(retryIn <= .milliseconds(2100), "\(retryIn)")
        // Absurd reset times from outside are ignored, not converted.
        try budget.sync("input_tokens", remaining: 0, resetsAt: Date(timeIntervalSince1970: -1e300), on: redis)
        try budget.sync("input_tokens", remaining: 0, resetsAt: Date(timeIntervalSince1970: 1e300), on: redis)
        // A view with more left than the budget thinks changes nothing.
        try budget.sync("input_tokens", remaining: 1000, resetsAt: Date().addingTimeInterval(60), on: redis)
        #expect(try budget.usage(on: redis).map(\.used) == [3, 950])
    }
}
