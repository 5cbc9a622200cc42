import FerryQueue
import FerryWorker
import Foundation
import FerrySupport

/// The per-model limits and prices of the Claude jobs, from `parameters:` of
/// `jobs/claude.message.yml`:
///
/// ```yaml
/// parameters:
///   window: 1m                    # the limits' window (the API's is a minute)
///   pace: 0.95                    # the share of a limit the budget refills at
///   burst: 1s                     # the most let out at once, as the time the limit takes to refill it
///   request_timeout_s: 120
///   default_max_tokens: 1024
///   models:
///     claude-sonnet-4-5:
///       requests_per_minute: 50
///       input_tokens_per_minute: 30000
///       output_tokens_per_minute: 8000
///       price: {input: 3, output: 15, cache_write: 3.75, cache_read: 0.30}   # USD per million tokens
/// ```
struct ClaudeSettings: Sendable {
    struct Model: Sendable {
        var name: String
        /// The limits assumed until the API announces its own.
        var budget: [TokenBudget.Measure]
        /// USD per million tokens, as written (kept as text: cost is computed as `numeric` in PostgreSQL).
        var price: Price
    }

    struct Price: Sendable, Equatable {
        var input = "0", output = "0", cacheWrite = "0", cacheRead = "0"
    }

    var models: [String: Model]
    var defaultMaxTokens: Int
    /// Share of the price paid for requests sent through the Message Batches API.
    var batchDiscount: String
    /// Delay before a `claude.batch` first asks about its batch, and the longest between two asks.
    var pollInterval: Duration
    var maxPollInterval: Duration
    /// The longest one call to the API may take.
    var requestTimeout: Duration
    var pacing: TokenBudget.Pacing

    /// The measures, in the order every budget of these jobs lists them.
    static let measureNames = ["requests", "input_tokens", "output_tokens"]

    init(_ parameters: JSONValue) throws {
        var window = Duration.seconds(60)
        if let text = parameters["window"]?.string {
            guard let duration = JobSettingsFile.parseDuration(text) else { throw PermanentJobError("parameters.window: '\(text.prefix(40))' is not a duration like 1m") }
            window = duration
        }
        defaultMaxTokens = parameters["default_max_tokens"]?.int ?? 1024
        guard (1...128_000).contains(defaultMaxTokens) else { throw PermanentJobError("parameters.default_max_tokens must be from 1 to 128000") }
        batchDiscount = Self.decimalText(parameters["batch_price_share"]) ?? "0.5"
        guard let poll = Duration(checkedSeconds: parameters["poll_interval_s"]?.double ?? 60, maximum: 86_400),
              let maxPoll = Duration(checkedSeconds: parameters["max_poll_interval_s"]?.double ?? 600, maximum: 86_400),
              poll >= .milliseconds(10), maxPoll >= poll else {
            throw PermanentJobError("parameters.poll_interval_s and max_poll_interval_s must be from 0.01 to 86400 s, the first no larger")
        }
        pollInterval = poll
        maxPollInterval = maxPoll
        guard let timeout = Duration(checkedSeconds: parameters["request_timeout_s"]?.double ?? 120, maximum: 3600), timeout >= .milliseconds(100) else {
            throw PermanentJobError("parameters.request_timeout_s must be from 0.1 to 3600")
        }
        requestTimeout = timeout
        do {
            var burst = Duration.seconds(1)
            if let written = parameters["burst"] {
                guard let duration = written.string.flatMap(JobSettingsFile.parseDuration) ?? written.double.flatMap({ Duration(checkedSeconds: $0) }) else {
                    throw PermanentJobError("parameters.burst: '\(written)' is not a duration like 1s")
                }
                burst = duration
            }
            if let written = parameters["pace"], written.double == nil { throw PermanentJobError("parameters.pace must be a number from 0.5 to 1") }
            pacing = try TokenBudget.Pacing(pace: parameters["pace"]?.double ?? 0.95, burst: burst)
        } catch let error as RateLimit.Invalid {
            throw PermanentJobError("parameters: \(error.description)")
        }
        var models: [String: Model] = [:]
        for (name, value) in parameters["models"]?.object ?? [:] {
            var measures: [TokenBudget.Measure] = []
            for (measure, key) in zip(Self.measureNames, ["requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"]) {
                guard let limit = value[key]?.int else { throw PermanentJobError("parameters.models.\(name).\(key) is required (a whole number)") }
                do {
                    measures.append(try TokenBudget.Measure(measure, limit: Int64(limit), window: window))
                } catch {
                    throw PermanentJobError("parameters.models.\(name).\(key): \(error)")
                }
            }
            var price = Price()
            let prices = value["price"]
            price.input = Self.decimalText(prices?["input"]) ?? "0"
            price.output = Self.decimalText(prices?["output"]) ?? "0"
            price.cacheWrite = Self.decimalText(prices?["cache_write"]) ?? price.input
            price.cacheRead = Self.decimalText(prices?["cache_read"]) ?? "0"
            models[name] = Model(name: name, budget: measures, price: price)
        }
        self.models = models
    }

    /// The model's settings, or a dead job naming the known ones.
    func model(_ name: String) throws -> Model {
        guard let model = models[name] else {
            throw PermanentJobError("no limits are set for model '\(name.prefix(100))' (parameters.models in jobs/claude.message.yml); known: \(models.keys.sorted().joined(separator: ", "))")
        }
        return model
    }

    /// A non-negative decimal number as text (from a YAML number or string), else nil.
    static func decimalText(_ value: JSONValue?) -> String? {
        switch value {
        case .int(let number) where number >= 0: return String(number)
        case .double(let number) where number.isFinite && number >= 0 && number < 1e9: return String(format: "%.6f", number)
        case .string(let text) where Decimal(string: text).map({ $0 >= 0 && $0 < 1_000_000_000 }) == true && text.allSatisfy({ $0.isNumber || $0 == "." }):
            return text
        default: return nil
        }
    }
}
