@testable import FerryJobs
import FerryHTTP
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerrySupport
import FerryTestSupport
import FerryWorker
import Foundation
import Testing

/// `claude.message` and `claude.batch` run by `ferry worker` against the local stand-in for the
/// Messages API (`ops/testservers/anthropic_stub.py`), with real Redis and PostgreSQL.
@Suite(.serialized) struct ClaudeTests {
    let fixture: DatabaseFixture
    let keys = QueueKeyspace(namespace: "claude-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let jobsDirectory: String
    /// Unique per test: the stand-in keeps its log and limits per key.
    let apiKey = "sk-test-\(UUID().uuidString.prefix(12))"

    init() throws {
        fixture = try DatabaseFixture()
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        jobsDirectory = NSTemporaryDirectory() + "ferry-claude-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        let models = """
              window: 2s
              burst: 200ms
              request_timeout_s: 1
              poll_interval_s: 0.2
              max_poll_interval_s: 0.5
              models:
                claude-test:
                  requests_per_minute: 10
                  input_tokens_per_minute: 100000
                  output_tokens_per_minute: 100000
                  price: {input: 3, output: 15}
            """
        try """
            queue: claude
            max_attempts: 4
            backoff: {base: 100ms, max: 200ms, jitter: 0}
            rate: {limit: 100000, per: 1m, burst: 1000, key: model}
            parameters:
            \(models)
            """.write(toFile: jobsDirectory + "/claude.message.yml", atomically: true, encoding: .utf8)
        try """
            queue: claude
            backoff: {base: 100ms, max: 200ms, jitter: 0}
            parameters:
              batch_price_share: 0.5
            \(models)
            """.write(toFile: jobsDirectory + "/claude.batch.yml", atomically: true, encoding: .utf8)
    }

    var databaseURL: String { TestEnvironment.postgresURL + "?search_path=\(fixture.schema)" }

    func startWorker(processes: Int = 1, key: String? = nil) throws -> ChildProcess {
        let worker = try ChildProcess([
            TestEnvironment.ferryBinary, "worker", "--queues", "claude", "--processes", "\(processes)", "--concurrency", "8", "--jobs-dir", jobsDirectory,
        ], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": keys.namespace, "DATABASE_URL": databaseURL,
            "ANTHROPIC_BASE_URL": TestEnvironment.httpURL + "/anthropic", "ANTHROPIC_API_KEY": key ?? apiKey,
        ])
        let ready = try eventually(timeout: 30) { try WorkerRegistry(keys: keys).liveWorkers(on: redis).count == processes }
        #expect(ready, "\(worker.output.suffix(2000))")
        return worker
    }

    func message(_ text: String, ref: String? = nil, maxAttempts: Int? = nil) throws -> String {
        var args: JSONValue = ["model": "claude-test", "max_tokens": 64, "messages": [["role": "user", "content": .string(text)]]]
        if let ref, case .object(var members) = args {
            members["ref"] = .string(ref)
            args = .object(members)
        }
        return try dispatcher.enqueue(.init(type: "claude.message", args: args, options: .init(queue: "claude", maxAttempts: maxAttempts)))
    }

    func result(_ id: String, timeout: Int = 30) throws -> JobResult? {
        try JobResults(keys: keys).wait(id: id, queue: "claude", timeout: .seconds(timeout), on: redis)
    }

    @Test func answersFailuresAndAccounting() throws {
        let worker = try startWorker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let ok = try message("hello there world", ref: "greeting-1")
        let run = UUID().uuidString.prefix(8)  // the stand-in answers each "once" text once per process
        // A 429 holds the model and puts the job back without spending its only attempt.
        let limited = try message("stub:429 once \(run) retry-after=1", maxAttempts: 1)
        let overloaded = try message("stub:529 once \(run)")
        let broken = try message("stub:500 once \(run)")
        let malformed = try message("stub:malformed once \(run)")
        let slow = try message("stub:delay=1500 once \(run)")
        let invalid = try message("stub:400")

        let answered = try #require(try result(ok))
        #expect(answered.status == .succeeded)
        #expect(answered.value?["content"]?.elements?.first?["text"] == .string("echo: hello there world"), "\(answered)")
        #expect(answered.value?["ref"] == .string("greeting-1") && answered.value?["stop_reason"] == .string("end_turn"))
        let input = try #require(answered.value?["usage"]?["input_tokens"]?.int)
        let output = try #require(answered.value?["usage"]?["output_tokens"]?.int)
        // Cost from the price table, computed exactly: (input × 3 + output × 15) / 10⁶ USD.
        let expected = (Decimal(input) * 3 + Decimal(output) * 15) / 1_000_000
        #expect(Decimal(string: answered.value?["cost_usd"]?.string ?? "") == expected, "\(answered)")
        let row = try #require(try fixture.db.query(
            "SELECT status, ref, input_tokens::int AS input, output_tokens::int AS output, cost_usd::text AS cost, request_id FROM claude_calls WHERE call_key = $1",
            ["job:\(ok)"]).first)
        #expect(try row.decode("status", as: String.self) == "succeeded" && row.decode("input", as: Int.self) == input && row.decode("ref", as: String.self) == "greeting-1")
        #expect(try row.decode("request_id", as: String?.self)?.hasPrefix("req_") == true)

        let held = try #require(try result(limited))
        #expect(held.status == .succeeded, "a 429 spent the only attempt: \(held)")
        #expect(held.value?["content"]?.elements?.first?["text"]?.string?.contains("answered after 429") == true)
        for id in [overloaded, broken, malformed, slow] {
            let retried = try #require(try result(id))
            #expect(retried.status == .succeeded, "\(retried)")
            #expect(try fixture.int("SELECT attempts FROM claude_calls WHERE call_key = $1", ["job:\(id)"]) == 2)
        }
        let dead = try #require(try result(invalid))
        #expect(dead.status == .dead && dead.error?.message.contains("invalid_request_error") == true, "\(dead)")
        #expect(dead.error?.message.contains("text content blocks must be non-empty") == true)
        #expect(try fixture.int("SELECT count(*)::int FROM claude_calls WHERE call_key = $1 AND status = 'failed'", ["job:\(invalid)"]) == 1)

        // ferry claude usage sums it; the key is in no log line.
        let usage = try ChildProcess([TestEnvironment.ferryBinary, "claude", "usage", "--by", "model"], environment: ["DATABASE_URL": databaseURL])
        #expect(usage.waitForExit(timeout: 30) == 0)
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(usage.output.utf8))
        #expect(report.elements?.first?["key"] == .string("claude-test") && report.elements?.first?["calls"]?.int == 7, "\(usage.output)")
        #expect(!worker.output.contains(apiKey) && !usage.output.contains(apiKey))
    }

    @Test func recordedCallsArePagedNewestFirstByID() throws {
        try fixture.db.query("""
            INSERT INTO claude_calls (call_key, job_id, ref, model, status)
            SELECT 'job:p' || n, 'p' || n, CASE WHEN n % 2 = 0 THEN 'even' END, 'claude-test', 'succeeded' FROM generate_series(1, 7) n
            """)
        let newest = try ClaudeCalls.records(limit: 3, on: fixture.db).map(\.id)
        let boundary = try #require(newest.last)
        let older = try ClaudeCalls.records(before: boundary, limit: 10, on: fixture.db).map(\.id)
        #expect(newest.count == 3 && older.count == 4 && (newest + older) == (newest + older).sorted(by: >) && Set(newest).isDisjoint(with: older), "\(newest) \(older)")
        // With a filter: only its records, below the boundary.
        let even = try ClaudeCalls.records(ref: "even", before: boundary, limit: 10, on: fixture.db)
        #expect(!even.isEmpty && even.allSatisfy { $0.ref == "even" && $0.id < boundary }, "\(even.map(\.id))")
    }

    @Test(arguments: ["2026-11-25T01:02:03Z", "2026-02-28T23:59:59.250Z", "2024-02-29T12:00:00+05:30", "1999-12-31T23:00:00-01:00", "2026-01-01T00:00:00.5Z"])
    func resetTimesAreReadAsTheFormatterReadsThem(text: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        let expected = try #require(formatter.date(from: text.uppercased()))
        let read = try #require(Timestamp.parse(text))
        #expect(abs(read.timeIntervalSince(expected)) < 0.001, "\(read) vs \(expected)")
    }

    @Test func malformedResetTimesAreNotRead() {
        for text in ["", "2026-11", "2026-13-01T00:00:00Z", "2026-11-25T25:00:00Z", "2026-11-25T01:61:03Z", "2026-11-25T01:02:03Zjunk", "x026-11-25T01:02:03Z"] {
            #expect(Timestamp.parse(text) == nil, "\(text)")
        }
    }

    @Test func aWrongKeyGoesDeadWithoutShowingIt() throws {
        let api = MessagesAPI(apiKey: "bad-key-12345", baseURL: TestEnvironment.httpURL + "/anthropic", http: FerryHTTPClient())
        #expect(!api.description.contains("bad-key-12345"))
        let settings = try ClaudeSettings(["models": ["claude-test": ["requests_per_minute": 10, "input_tokens_per_minute": 1000, "output_tokens_per_minute": 1000]]])
        let model = try settings.model("claude-test")
        let request = try ClaudeMessage.request(
            .init(model: "claude-test", messages: [["role": "user", "content": "hi"]]), defaultMaxTokens: 16)
        do {
            _ = try ClaudeMessage.call(
                request, call: .init(key: "job:wrong-key", jobID: "wrong-key", batchID: nil, ref: nil, model: "claude-test"), model: model, api: api,
                budget: TokenBudget(scope: "claude:test-\(UUID().uuidString.prefix(6))", measures: model.budget, keys: keys), timeout: .seconds(5),
                redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), db: fixture.pool)
            Issue.record("a wrong key was accepted")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("HTTP 401") && error.message.contains("ANTHROPIC_API_KEY") && !error.message.contains("bad-key-12345"), "\(error)")
        }
        // Requests the API would refuse are refused before spending anything.
        #expect(throws: PermanentJobError.self) { try ClaudeMessage.request(.init(model: "m", messages: []), defaultMaxTokens: 16) }
        #expect(throws: PermanentJobError.self) { try ClaudeMessage.request(.init(model: "m", messages: [["role": "user", "content": "x"]], maxTokens: 0), defaultMaxTokens: 16) }
        #expect(throws: PermanentJobError.self) { try settings.model("claude-unknown") }
    }

    @Test func pacingSettingsAreCheckedWhenRead() throws {
        let model: JSONValue = ["claude-test": ["requests_per_minute": 60, "input_tokens_per_minute": 1000, "output_tokens_per_minute": 1000]]
        #expect(try ClaudeSettings(["models": model]).pacing == .standard)
        let set = try ClaudeSettings(["pace": 0.8, "burst": "250ms", "models": model]).pacing
        #expect(set.pace == 0.8 && set.burstMS == 250)
        #expect(try ClaudeSettings(["burst": 2, "models": model]).pacing.burstMS == 2000)
        for bad: JSONValue in [["pace": "fast"], ["pace": 0.2], ["pace": 1.5], ["burst": "soon"], ["burst": -1]] {
            guard case .object(var parameters) = bad else { continue }
            parameters["models"] = model
            #expect(throws: PermanentJobError.self, "\(bad)") { try ClaudeSettings(.object(parameters)) }
        }
    }

    @Test func rateLimitHeadersSetTheBudgetToTheAnnouncedLimitAndWhatIsLeft() throws {
        // The account allows 5 requests a minute, and another client has used 3 of them.
        let http = FerryHTTPClient()
        #expect(try http.execute(FerryHTTPClient.Request(method: "PUT", url: TestEnvironment.httpURL + "/anthropic/stub/limits/\(apiKey)", text: #"{"requests": 5, "window_ms": 60000}"#)).status == 200)
        let api = MessagesAPI(apiKey: apiKey, baseURL: TestEnvironment.httpURL + "/anthropic", http: http)
        for _ in 0..<3 {
            let other = try api.post("/v1/messages", body: Array(#"{"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "other"}]}"#.utf8), timeout: .seconds(5))
            #expect(other.status == 200)
        }
        // This budget assumes 100 a minute; the response announces 5 and says 1 is left.
        let settings = try ClaudeSettings(["models": ["claude-test": ["requests_per_minute": 100, "input_tokens_per_minute": 100000, "output_tokens_per_minute": 100000]]])
        let model = try settings.model("claude-test")
        let budget = TokenBudget(scope: "claude:headers-\(UUID().uuidString.prefix(6))", measures: model.budget, keys: keys)
        let request = try ClaudeMessage.request(.init(model: "claude-test", messages: [["role": "user", "content": "mine"]]), defaultMaxTokens: 16)
        let pool = RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL))
        let answer = try ClaudeMessage.call(
            request, call: .init(key: "job:headers-\(UUID().uuidString.prefix(6))", jobID: "headers", batchID: nil, ref: nil, model: "claude-test"),
            model: model, api: api, budget: budget, timeout: .seconds(5), redis: pool, db: fixture.pool)
        #expect(answer["content"] != nil)
        // Followed down to 5 a minute (a bucket of 1), holding no more than the 1 left: the next
        // request waits for the refill of 5 a minute at 95%, not the 100 assumed.
        let requests = try #require(try budget.state(on: redis).first { $0.measure == "requests" })
        #expect(requests.limit == 5 && requests.announced && requests.capacity == 1 && requests.level <= 1, "\(requests)")
        guard case .wait(let retryIn, "requests") = try budget.spend(["requests": 1], on: redis) else { Issue.record("a request past the API's pace was granted"); return }
        #expect(retryIn > .seconds(1), "\(retryIn)")
        // The yml's rate: cap is the ceiling the announced limit is followed up to.
        let capped = ClaudeMessage.budget(for: model, settings: settings, rate: try RateLimit(limit: 3, period: .seconds(60)), keys: keys)
        #expect(capped.ceilings["requests"] == 3)
    }

    @Test func anAnswerIsKeptWhenPostgreSQLFailsSoTheRetryDoesNotPayTwice() throws {
        let settings = try ClaudeSettings(["models": ["claude-test": ["requests_per_minute": 100, "input_tokens_per_minute": 100000, "output_tokens_per_minute": 100000, "price": ["input": 3, "output": 15]]]])
        let model = try settings.model("claude-test")
        let api = MessagesAPI(apiKey: apiKey, baseURL: TestEnvironment.httpURL + "/anthropic", http: FerryHTTPClient())
        let request = try ClaudeMessage.request(.init(model: "claude-test", messages: [["role": "user", "content": "kept answer"]]), defaultMaxTokens: 16)
        let call = ClaudeCalls.Call(key: "job:kept", jobID: "kept", batchID: nil, ref: "kept-1", model: "claude-test")
        let pool = RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL))
        let store = JobStore(keys: keys, queue: "claude", jobID: "kept")
        // PostgreSQL is unreachable when the answer comes back.
        let unreachable = PostgresConnectionPool(configuration: try PostgresConfiguration(url: "postgres://nobody@127.0.0.1:1/nothing"), capacity: 1)
        #expect(throws: (any Error).self) {
            _ = try ClaudeMessage.call(
                request, call: call, model: model, api: api, budget: TokenBudget(scope: "claude:kept-\(UUID().uuidString.prefix(6))", measures: model.budget, keys: keys),
                timeout: .seconds(5), store: store, redis: pool, db: unreachable)
        }
        let bytes = try #require(try store.value(ClaudeMessage.keptAnswer, on: redis))
        let kept = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        // The retry records what was kept: the row, its cost, one request at the API.
        let answer = try ClaudeMessage.record(kept, call: call, price: model.price, priceShare: "1", db: fixture.pool)
        #expect(answer["content"]?.elements?.first?["text"] == .string("echo: kept answer") && answer["cost_usd"]?.string != nil)
        #expect(try fixture.int("SELECT count(*)::int FROM claude_calls WHERE call_key = 'job:kept' AND status = 'succeeded' AND input_tokens > 0") == 1)
        let log = try JSONDecoder().decode(JSONValue.self, from: Data(try FerryHTTPClient().execute(FerryHTTPClient.Request(url: TestEnvironment.httpURL + "/anthropic/stub/log/\(apiKey)")).body))
        #expect(log["accepted"]?.elements?.count == 1)
    }

    @Test func manyJobsAcrossTwoWorkerProcessesStayWithinTheLimit() throws {
        // The stand-in refuses (429) past 10 requests in any 2 s for this key: the account's limit.
        let limits = try FerryHTTPClient().execute(FerryHTTPClient.Request(
            method: "PUT", url: TestEnvironment.httpURL + "/anthropic/stub/limits/\(apiKey)", text: #"{"requests": 10, "window_ms": 2000}"#))
        #expect(limits.status == 200)
        let worker = try startWorker(processes: 2)
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let ids = try (0..<35).map { try message("question \($0)") }
        for id in ids {
            let done = try #require(try result(id, timeout: 60))
            #expect(done.status == .succeeded, "\(done)")
        }
        let log = try JSONDecoder().decode(JSONValue.self, from: Data(try FerryHTTPClient().execute(FerryHTTPClient.Request(
            url: TestEnvironment.httpURL + "/anthropic/stub/log/\(apiKey)")).body))
        #expect(log["rejected"] == .int(0), "429s provoked: \(String(describing: log["rejected"]))")
        let times = (log["accepted"]?.elements ?? []).compactMap { $0.elements?.first?.int }.sorted()
        #expect(times.count == 35)
        // No 2-s window (the test's "minute") holds more than 10 requests, wherever it starts.
        for (index, time) in times.enumerated() where index + 10 < times.count {
            #expect(times[index + 10] - time >= 2000, "11 requests within \(times[index + 10] - time) ms")
        }
    }

    /// The stand-in's log for this test's key: requests it accepted, and 429s.
    func standInLog() throws -> (accepted: [Int], rejected: Int) {
        let log = try JSONDecoder().decode(JSONValue.self, from: Data(try FerryHTTPClient().execute(FerryHTTPClient.Request(url: TestEnvironment.httpURL + "/anthropic/stub/log/\(apiKey)")).body))
        return ((log["accepted"]?.elements ?? []).compactMap { $0.elements?.first?.int }, log["rejected"]?.int ?? -1)
    }

    @Test func aFleetFollowsTheAnnouncedLimitUpAndDownWithoutA429Storm() throws {
        // The API enforces 600 requests a minute as 10 a second (a continuously refilled bucket)
        // and announces 600; the yml assumes 50 a minute, with the real window of a minute.
        let directory = NSTemporaryDirectory() + "ferry-claude-paced-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            queue: claude
            max_attempts: 3
            backoff: {base: 100ms, max: 200ms, jitter: 0}
            rate: {limit: 100000, per: 1m, burst: 1000, key: model}
            parameters:
              window: 1m
              request_timeout_s: 5
              models:
                claude-test: {requests_per_minute: 50, input_tokens_per_minute: 10000000, output_tokens_per_minute: 10000000}
            """.write(toFile: directory + "/claude.message.yml", atomically: true, encoding: .utf8)
        let http = FerryHTTPClient()
        func limit(_ requests: Int, keepLog: Bool) throws {
            let body = #"{"enforce": "bucket", "requests": \#(requests), "window_ms": 60000, "keep_log": \#(keepLog), "drain": \#(keepLog)}"#
            #expect(try http.execute(FerryHTTPClient.Request(method: "PUT", url: TestEnvironment.httpURL + "/anthropic/stub/limits/\(apiKey)", text: body)).status == 200)
        }
        try limit(600, keepLog: false)
        let worker = try ChildProcess([
            TestEnvironment.ferryBinary, "worker", "--queues", "claude", "--processes", "2", "--concurrency", "8", "--jobs-dir", directory,
        ], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": keys.namespace, "DATABASE_URL": databaseURL,
            "ANTHROPIC_BASE_URL": TestEnvironment.httpURL + "/anthropic", "ANTHROPIC_API_KEY": apiKey, "FERRY_LOG_LEVEL": "warning",
        ])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try WorkerRegistry(keys: keys).liveWorkers(on: redis).count == 2 }, "\(worker.output.suffix(2000))")

        // Sustained load: 120 calls queued at once.
        let first = try (0..<120).map { try message("load \($0)") }
        for id in first {
            let done = try #require(try result(id, timeout: 90))
            #expect(done.status == .succeeded, "\(done)")
        }
        let before = try standInLog()
        #expect(before.accepted.count == 120)
        // Followed up from 50 to 600 a minute: at 50, 120 calls would take over two minutes; the
        // budget now holds the announced limit.
        let budget = ClaudeMessage.budget(for: try ClaudeSettings(["window": "1m", "models": ["claude-test": ["requests_per_minute": 50, "input_tokens_per_minute": 10000000, "output_tokens_per_minute": 10000000]]]).model("claude-test"),
                                          settings: try ClaudeSettings(["models": [:]]), rate: nil, keys: keys)
        #expect(try budget.state(on: redis).first?.limit == 600)
        // Paced as the API refills: at most 2% of the requests answered 429.
        #expect(Double(before.rejected) <= 0.02 * Double(before.accepted.count + before.rejected), "\(before.rejected) of \(before.accepted.count + before.rejected) answered 429")

        // The API lowers the limit to 240 a minute (4 a second) under load and empties its bucket:
        // the calls in flight meet 429s until the answers announce it, then the fleet follows it down.
        let second = try (0..<60).map { try message("lowered \($0)") }
        Thread.sleep(forTimeInterval: 0.5)
        try limit(240, keepLog: true)
        for id in second {
            let done = try #require(try result(id, timeout: 90))
            #expect(done.status == .succeeded, "a 429 cost an attempt: \(done)")
        }
        let after = try standInLog()
        #expect(after.accepted.count == 180)
        #expect(try budget.state(on: redis).first?.limit == 240)
        // The storm is short: it lasts until the first answers after the change; afterwards the
        // calls keep to 4 a second.
        let storm = after.rejected - before.rejected
        #expect(storm <= 12, "\(storm) requests answered 429 after the limit was lowered")
        let late = after.accepted.suffix(30)
        if let firstLate = late.first, let lastLate = late.last {
            #expect(lastLate - firstLate >= 29 * 1000 / 4 * 9 / 10, "the last 30 calls within \(lastLate - firstLate) ms: faster than 4 a second")
        }
    }

    @Test func aBatchIsSubmittedFollowedAndItsResultsRecordedByRef() throws {
        let worker = try startWorker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let requests: JSONValue = .array([
            ["ref": "a-1", "model": "claude-test", "max_tokens": 32, "messages": [["role": "user", "content": "first question"]]],
            ["ref": "a-2", "model": "claude-test", "max_tokens": 32, "messages": [["role": "user", "content": "second"]]],
            ["ref": "a-3", "model": "claude-test", "max_tokens": 32, "messages": [["role": "user", "content": "stub:400"]]],
        ])
        let id = try dispatcher.enqueue(.init(type: "claude.batch", args: ["requests": requests], options: .init(queue: "claude")))
        let submitted = try #require(try result(id))
        let batchID = try #require(submitted.value?["batch_id"]?.string, "\(submitted)")
        // Follow-up jobs ask until it has ended, then record each result.
        let recorded = try eventually(timeout: 30) {
            try fixture.int("SELECT count(*)::int FROM claude_batches WHERE batch_id = $1 AND status = 'ended' AND recorded = 3", [batchID]) == 1
        }
        #expect(recorded, "\(worker.output.suffix(2000))")
        let rows = try fixture.db.query(
            "SELECT ref, status, job_id, cost_usd::text AS cost, response->'content'->0->>'text' AS text, error FROM claude_calls WHERE batch_id = $1 ORDER BY ref",
            [batchID]).rows
        #expect(rows.count == 3)
        #expect(try rows[0].decode("status", as: String.self) == "succeeded" && rows[0].decode("text", as: String?.self) == "echo: first question")
        #expect(try rows[0].decode("job_id", as: String.self) == id)
        #expect(try rows[2].decode("status", as: String.self) == "failed" && rows[2].decode("error", as: String?.self)?.contains("invalid_request_error") == true)
        // Results by ref, over the CLI and the admin API.
        let cli = try ChildProcess([TestEnvironment.ferryBinary, "claude", "calls", "--ref", "a-2"], environment: ["DATABASE_URL": databaseURL])
        #expect(cli.waitForExit(timeout: 30) == 0)
        let shown = try JSONDecoder().decode(JSONValue.self, from: Data(cli.output.utf8))
        #expect(shown.elements?.count == 1 && shown.elements?.first?["answer"]?["content"]?.elements?.first?["text"] == .string("echo: second"), "\(cli.output)")
        let port = try FreePort.find()
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": keys.namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)", "DATABASE_URL": databaseURL,
        ])
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let http = FerryHTTPClient()
        let base = "http://127.0.0.1:\(port)/api/v1/claude"
        #expect(eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: base + "/usage")))?.status == 200 })
        let calls = try JSONDecoder().decode(JSONValue.self, from: Data(try http.execute(FerryHTTPClient.Request(url: base + "/calls?batch_id=\(batchID)")).body))
        #expect(calls["calls"]?.elements?.count == 3, "\(calls)")
        let usage = try JSONDecoder().decode(JSONValue.self, from: Data(try http.execute(FerryHTTPClient.Request(url: base + "/usage?by=day&since=2020-01-01")).body))
        #expect(usage["usage"]?.elements?.first?["calls"]?.int == 3, "\(usage)")
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/usage?by=week")).status == 400)
        // Half price through the batch API.
        #expect(try fixture.int("SELECT count(*)::int FROM claude_calls WHERE batch_id = $1 AND cost_usd = round((input_tokens * 3 + output_tokens * 15) * 0.5 / 1000000, 10) AND status = 'succeeded'", [batchID]) == 2)
    }
}
