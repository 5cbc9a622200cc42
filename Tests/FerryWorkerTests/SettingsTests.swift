import FerryQueue
import FerryTestSupport
import FerryWorker
import Testing

@Suite struct SettingsTests {
    @Test func yamlOverridesDefaultsAndRecordsWhereFrom() throws {
        var settings = JobSettings()
        try JobSettingsFile.apply(yaml: """
            queue: critical
            max_attempts: 4
            timeout: 90s
            concurrency: 3
            backoff: {base: 500ms, max: 2m, jitter: 0}
            parameters: {base_rate: "0.0125", batch_size: 1000}
            """, file: "jobs/mining.rewards.yml", to: &settings)
        #expect(settings.queue == "critical")
        #expect(settings.maxAttempts == 4)
        #expect(settings.timeout == .seconds(90))
        #expect(settings.concurrency == 3)
        #expect(settings.backoff == Backoff(base: .milliseconds(500), max: .seconds(120), jitter: 0))
        #expect(settings.parameters["base_rate"] == .string("0.0125"))
        #expect(settings.parameters["batch_size"] == .int(1000))
        #expect(settings.sources["timeout"] == "jobs/mining.rewards.yml")
    }

    @Test(arguments: [
        ("max_attempts: 0", "max_attempts must be a whole number from 1 to 1000"),
        ("timeout: soon", "timeout must be a duration"),
        ("concurrency: 0", "concurrency must be a whole number from 1 to 1000"),
        ("retries: 3", "unknown setting 'retries'"),
        ("backoff: {base: 1s, factor: 2}", "unknown backoff setting 'factor'"),
        ("- a\n- b", "must be a map of settings"),
        ("queue: [a", "is not valid YAML"),
        ("rate: 50", "rate must be a map"),
        ("rate: {per: 1s}", "rate.limit is required"),
        ("rate: {limit: 0}", "rate.limit must be a whole number from 1 to 1000000"),
        ("rate: {limit: 99999999999999999999}", "rate.limit must be a whole number"),
        ("rate: {limit: 5, per: -1s}", "rate.per must be a duration"),
        ("rate: {limit: 5, burst: 0}", "rate.burst must be a whole number from 1 to 100000"),
        ("rate: {limit: 5, reserve: {critical: 120%}}", "rate.reserve.critical must be a share between 0% and 100%"),
        ("rate: {limit: 5, reserve: {a: 60%, b: 40%}}", "the shares add up to 100% or more"),
        ("rate: {limit: 5, reserve: {critical: lots}}", "rate.reserve.critical must be a share like 20%"),
        ("rate: {limit: 5, every: 1s}", "unknown rate setting 'every'"),
    ])
    func badSettingsNameTheFileAndTheProblem(yaml: String, expected: String) {
        var settings = JobSettings()
        do {
            try JobSettingsFile.apply(yaml: yaml, file: "jobs/x.yml", to: &settings)
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.description.hasPrefix("jobs/x.yml: "))
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func aRateLimitIsReadWithItsKeyAndReservedShares() throws {
        var settings = JobSettings()
        try JobSettingsFile.apply(yaml: "rate: {limit: 50, per: 1m, burst: 10, key: model, reserve: {critical: 20%, high: 0.1}}", file: "claude.yml", to: &settings)
        let rate = try #require(settings.rate)
        #expect(rate == (try RateLimit(limit: 50, period: .seconds(60), burst: 10, key: "model", reserved: ["critical": 0.2, "high": 0.1])))
        #expect(rate.intervalMS == 1200)
        // The queues without a share get 70%: 35 a minute, 7 at once.
        #expect(rate.sharedBurst == 7 && abs(rate.sharedIntervalMS - 1200 / 0.7) < 1e-9)
        #expect(rate.budgetClass(forQueue: "critical") == "critical" && rate.budgetClass(forQueue: "default") == "*")
        #expect(settings.sources["rate"] == "claude.yml")
    }

    @Test func backoffGrowsExponentiallyWithBoundedJitter() {
        let backoff = Backoff(base: .seconds(5), max: .seconds(60), jitter: 0.25)
        #expect(backoff.delay(afterAttempt: 1, random: 0) == .seconds(5))
        #expect(backoff.delay(afterAttempt: 2, random: 0) == .seconds(10))
        #expect(backoff.delay(afterAttempt: 4, random: 0) == .seconds(40))
        #expect(backoff.delay(afterAttempt: 10, random: 0) == .seconds(60))
        #expect(backoff.delay(afterAttempt: 1, random: 0.999) < .milliseconds(6250))
        #expect(backoff.delay(afterAttempt: 100, random: 0.5) == .milliseconds(67_500))
    }

    @Test func queueSelectionParsesAndWeighsFairly() throws {
        let selection = try QueueSelection(parsing: "critical:5,default:3,low:1")
        #expect(selection.names == ["critical", "default", "low"])
        var generator = SeededGenerator(seed: 20261124)
        var first: [String: Int] = [:]
        for _ in 0..<9000 { first[selection.order(using: &generator)[0], default: 0] += 1 }
        // Expected 5000 / 3000 / 1000; every queue gets its turn.
        #expect((4500...5500).contains(first["critical"] ?? 0))
        #expect((2600...3400).contains(first["default"] ?? 0))
        #expect((700...1300).contains(first["low"] ?? 0))
        let strict = try QueueSelection(parsing: "a,b", strict: true)
        #expect(strict.order(using: &generator) == ["a", "b"])
        #expect(throws: QueueSelectionError.self) { try QueueSelection(parsing: "a:0") }
        #expect(throws: QueueSelectionError.self) { try QueueSelection(parsing: "a,a") }
        #expect(throws: QueueSelectionError.self) { try QueueSelection(parsing: "") }
    }
}
