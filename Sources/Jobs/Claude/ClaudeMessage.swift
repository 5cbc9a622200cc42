import Ferry
public import FerryWorker
import FerryHTTP
import FerryPostgres
public import FerryQueue
import FerryRedis
import Foundation
import FerrySupport

/// `claude.message`: one call to Anthropic's Messages API within the account's limits across
/// the fleet, accounted in `claude_calls`, its answer the job's result.
///
/// ```json
/// {"model": "claude-sonnet-4-5", "max_tokens": 512, "ref": "ticket-991",
///  "system": "You are terse.", "messages": [{"role": "user", "content": "Summarize …"}]}
/// ```
///
/// Before the call it spends, from the model's ``TokenBudget`` (token buckets shared by the
/// fleet, refilled continuously as the API refills its own), one request, the estimated input
/// tokens and `max_tokens` output tokens — all three or none; afterwards the estimates are
/// replaced by the response's `usage`, and the `anthropic-ratelimit-*` headers set the budget to
/// the limits the API announces (up or down; the `rate:` cap stays the ceiling for requests) and
/// to what it says is left. Short of budget, or answered 429, the job is put back without
/// spending an attempt and the model is held across the fleet until tokens refill (or
/// `retry-after`). 529, 5xx, timeouts and malformed replies are retried with backoff; 400, 404,
/// 413 go dead with the API's error type and message; 401 and 403 go dead asking to check the key.
public struct ClaudeMessage: JobHandler {
    public static let type = "claude.message"
    public static let requiredServices = [RequiredService(ClaudeService.self), RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "claude", maxAttempts: 8, backoff: Backoff(base: .seconds(5), max: .seconds(600)), timeout: .seconds(600))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var model: String
        public var messages: JSONValue
        public var system: JSONValue?
        public var maxTokens: Int?
        public var temperature: Double?
        public var stopSequences: [String]?
        public var tools: JSONValue?
        public var toolChoice: JSONValue?
        public var metadata: JSONValue?
        public var ref: String?

        enum CodingKeys: String, CodingKey {
            case model, messages, system, temperature, tools, metadata, ref
            case maxTokens = "max_tokens", stopSequences = "stop_sequences", toolChoice = "tool_choice"
        }

        /// A Messages API request: `messages` as the API takes them (`[{"role": "user", "content": "…"}]`).
        public init(
            model: String, messages: JSONValue, system: JSONValue? = nil, maxTokens: Int? = nil, temperature: Double? = nil,
            stopSequences: [String]? = nil, tools: JSONValue? = nil, toolChoice: JSONValue? = nil, metadata: JSONValue? = nil,
            ref: String? = nil
        ) {
            self.model = model
            self.messages = messages
            self.system = system
            self.maxTokens = maxTokens
            self.temperature = temperature
            self.stopSequences = stopSequences
            self.tools = tools
            self.toolChoice = toolChoice
            self.metadata = metadata
            self.ref = ref
        }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let settings = try ClaudeSettings(.object(context.settings.parameters))
        let model = try settings.model(arguments.model)
        let request = try Self.request(arguments, defaultMaxTokens: settings.defaultMaxTokens)
        let api = try context.services.require(ClaudeService.self, for: Self.type)
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let call = ClaudeCalls.Call(key: "job:\(context.id)", jobID: context.id, batchID: nil, ref: arguments.ref, model: arguments.model)
        // Run again after a crash past a successful call: the recorded answer, not a second bill.
        if let answer = try pool.withConnection({ try ClaudeCalls.answer(call.key, on: $0) }) {
            try context.setResult(answer)
            return
        }
        // Called before, but PostgreSQL failed while recording it: record the kept answer now.
        if let bytes = try context.kept(Self.keptAnswer), let kept = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) {
            try context.setResult(try Self.record(kept, call: call, price: model.price, priceShare: "1", db: pool))
            try? context.forget(Self.keptAnswer)
            return
        }
        let budget = Self.budget(for: model, settings: settings, rate: context.settings.rate, keys: context.dispatcher.keys)
        try context.setResult(try Self.call(
            request, call: call, model: model, api: api, budget: budget, timeout: settings.requestTimeout, store: context.store,
            redis: context.dispatcher.redis, db: pool))
    }

    /// The name the answer is kept under in the job's store until it is recorded.
    static let keptAnswer = "claude-answer"

    /// The model's budget; the `rate:` cap (its limit per period, scaled to the window) is the
    /// most requests it follows the API's announced limit up to.
    static func budget(for model: ClaudeSettings.Model, settings: ClaudeSettings, rate: RateLimit?, keys: QueueKeyspace) -> TokenBudget {
        var ceilings: [String: Int64] = [:]
        if let rate, let window = model.budget.first?.windowMS, rate.periodMS > 0 {
            // rate: is range-checked (limit ≤ 10^6, period ≥ 1 ms) and windows are at most a day: at most ~10^14.
            ceilings["requests"] = max(1, Int64(min((Double(rate.limit) * Double(window) / Double(rate.periodMS)).rounded(.down), 1e12)))
        }
        return TokenBudget(scope: "claude:\(model.name)", measures: model.budget, pacing: settings.pacing, ceilings: ceilings, keys: keys)
    }

    /// A validated request body and its estimated input tokens.
    struct Request {
        var body: [UInt8]
        var estimatedInputTokens: Int64
        var maxTokens: Int
    }

    /// Builds the body the API expects from the job's arguments, refusing what it would refuse.
    static func request(_ arguments: Arguments, defaultMaxTokens: Int) throws -> Request {
        guard case .array(let messages) = arguments.messages, !messages.isEmpty, messages.count <= 10_000 else {
            throw PermanentJobError("messages must be a non-empty array of {\"role\", \"content\"} (at most 10000)")
        }
        for (index, message) in messages.enumerated() {
            guard let role = message["role"]?.string, ["user", "assistant"].contains(role), message["content"] != nil else {
                throw PermanentJobError("messages[\(index)] needs a role (user or assistant) and content")
            }
        }
        let maxTokens = arguments.maxTokens ?? defaultMaxTokens
        guard (1...128_000).contains(maxTokens) else { throw PermanentJobError("max_tokens must be from 1 to 128000, got \(maxTokens)") }
        if let temperature = arguments.temperature {
            guard temperature.isFinite, (0...1).contains(temperature) else { throw PermanentJobError("temperature must be from 0 to 1") }
        }
        if let stops = arguments.stopSequences, stops.count > 1000 || stops.contains(where: { $0.isEmpty }) {
            throw PermanentJobError("stop_sequences must be at most 1000 non-empty strings")
        }
        var body: [String: JSONValue] = ["model": .string(arguments.model), "messages": arguments.messages, "max_tokens": .int(Int64(maxTokens))]
        body["system"] = arguments.system
        body["temperature"] = arguments.temperature.map { .double($0) }
        body["stop_sequences"] = arguments.stopSequences.map { .array($0.map { .string($0) }) }
        body["tools"] = arguments.tools
        body["tool_choice"] = arguments.toolChoice
        body["metadata"] = arguments.metadata
        let bytes = Array(try JSONEncoder().encode(JSONValue.object(body)))
        return Request(body: bytes, estimatedInputTokens: estimateTokens(bytes.count), maxTokens: maxTokens)
    }

    /// A deliberately high estimate of the input tokens of a body of `bytes` bytes (about 3.5
    /// bytes a token for English, less for code and other scripts): corrected from `usage` after
    /// the call, so a high estimate only holds budget for the length of a call.
    static func estimateTokens(_ bytes: Int) -> Int64 {
        Int64((Double(bytes) / 3.0).rounded(.up)) + 8
    }

    /// Spends the budget, calls, records and answers; see the type's documentation for failures.
    /// Connections are taken from the pools only around each Redis or PostgreSQL step, never
    /// across the call: hundreds of calls in flight need no more connections than are in use.
    static func call(
        _ request: Request, call: ClaudeCalls.Call, model: ClaudeSettings.Model, api: MessagesAPI, budget: TokenBudget, timeout: Duration,
        store: JobStore? = nil, redis: RedisConnectionPool, db: PostgresConnectionPool
    ) throws -> JSONValue {
        let reservation: TokenBudget.Reservation
        let asked: [String: Int64] = ["requests": 1, "input_tokens": request.estimatedInputTokens, "output_tokens": Int64(request.maxTokens)]
        switch try redis.withConnection({ try budget.spend(asked, on: $0) }) {
        case .granted(let granted): reservation = granted
        case .wait(let retryIn, let measure):
            throw RateLimited(retryAfter: retryIn, reason: "\(model.name): waiting for \(measure.replacingOccurrences(of: "_", with: " ")) to refill")
        case .tooLarge(let measure, let amount, let limit):
            throw PermanentJobError("the request needs \(amount) \(measure.replacingOccurrences(of: "_", with: " ")), more than \(model.name) allows in a window (\(limit)); lower max_tokens or raise the limit")
        }
        let start = ContinuousClock.now
        func elapsedMS() -> Int { Int((ContinuousClock.now - start).wholeMilliseconds) }
        let response: FerryHTTPClient.Response
        do {
            response = try api.post("/v1/messages", body: request.body, timeout: timeout)
        } catch {
            // No answer: the request may have counted, its output did not.
            try? redis.withConnection { try budget.correct(reservation, to: ["output_tokens": 0], on: $0) }
            try db.withConnection { try ClaudeCalls.failed(call, status: "failed", requestID: nil, error: error.description, latencyMS: elapsedMS(), on: $0) }
            if error.isTransient { throw ClaudeAPIError.transient("calling the Messages API failed: \(error)") }
            throw PermanentJobError("calling the Messages API failed: \(error)")
        }
        let latency = elapsedMS()
        let views = rateLimitHeaders(response.headers)
        if !views.isEmpty {
            try redis.withConnection { connection in
                for (measure, remaining, limit) in views { try budget.sync(measure, remaining: remaining, limit: limit, on: connection) }
            }
        }
        let requestID = response.headers["request-id"].map { String($0.prefix(200)) }
        guard response.isSuccess else {
            let error = ClaudeAPIError.from(response)
            try? redis.withConnection { try budget.correct(reservation, to: ["input_tokens": 0, "output_tokens": 0], on: $0) }
            let status = if case .rateLimited = error { "rate_limited" } else { "failed" }
            try db.withConnection { try ClaudeCalls.failed(call, status: status, requestID: requestID, error: error.description, latencyMS: latency, on: $0) }
            if case .rateLimited(let after, let message) = error {
                throw RateLimited(retryAfter: after, reason: "the API answered 429 for \(model.name): \(message)")
            }
            if case .transient = error { throw error }
            throw PermanentJobError(error.description)
        }
        let message = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        guard let message, message["type"]?.string == "message", case .array = message["content"], let tokens = ClaudeCalls.Tokens(message["usage"]) else {
            try? redis.withConnection { try budget.correct(reservation, to: ["output_tokens": 0], on: $0) }
            let error = ClaudeAPIError.transient("the API answered \(response.status) with a body that is not a Message: \(String(decoding: response.body.prefix(120), as: UTF8.self))")
            try db.withConnection { try ClaudeCalls.failed(call, status: "failed", requestID: requestID, error: error.description, latencyMS: latency, on: $0) }
            throw error
        }
        try? redis.withConnection { try budget.correct(reservation, to: ["input_tokens": tokens.input + tokens.cacheCreation, "output_tokens": tokens.output], on: $0) }
        var answer = answerFields(message)
        answer["ref"] = call.ref.map { .string($0) }
        let kept: JSONValue = [
            "request_id": requestID.map { .string($0) } ?? .null, "stop_reason": message["stop_reason"] ?? .null, "latency_ms": .int(Int64(latency)),
            "tokens": [.int(tokens.input), .int(tokens.output), .int(tokens.cacheCreation), .int(tokens.cacheRead)], "answer": .object(answer),
        ]
        // Kept in Redis before PostgreSQL: if recording fails, the retry records this answer
        // instead of paying for a second call.
        if let store {
            try redis.withConnection { try store.set(keptAnswer, to: try JSONEncoder().encode(kept).map { $0 }, for: .seconds(7 * 86_400), on: $0) }
        }
        let result = try record(kept, call: call, price: model.price, priceShare: "1", db: db)
        if let store { _ = try? redis.withConnection { try store.remove(keptAnswer, on: $0) } }
        return result
    }

    /// Records a call's kept answer in `claude_calls`; returns the answer with its cost.
    static func record(_ kept: JSONValue, call: ClaudeCalls.Call, price: ClaudeSettings.Price, priceShare: String, db: PostgresConnectionPool) throws -> JSONValue {
        let counts = (kept["tokens"]?.elements ?? []).map { Int64($0.int ?? 0) }
        guard counts.count == 4, counts.allSatisfy({ (0...1_000_000_000).contains($0) }), case .object(var answer) = kept["answer"] else {
            throw PermanentJobError("the kept answer of \(call.key) is unreadable; see claude_calls")
        }
        let tokens = ClaudeCalls.Tokens(input: counts[0], output: counts[1], cacheCreation: counts[2], cacheRead: counts[3])
        let cost = try db.withConnection {
            try ClaudeCalls.succeeded(
                call, requestID: kept["request_id"]?.string, stopReason: kept["stop_reason"]?.string, tokens: tokens, price: price, priceShare: priceShare,
                latencyMS: min(max(kept["latency_ms"]?.int ?? 0, 0), Int(Int32.max)), response: .object(answer), on: $0
            )
        }
        answer["cost_usd"] = cost.map { .string($0) }
        return .object(answer)
    }

    /// What of a Message becomes the result: id, model, content blocks, stop reason and sequence, usage.
    static func answerFields(_ message: JSONValue) -> [String: JSONValue] {
        var answer: [String: JSONValue] = [:]
        for field in ["id", "model", "content", "stop_reason", "stop_sequence", "usage"] { answer[field] = message[field] }
        return answer
    }
}
