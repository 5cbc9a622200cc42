import Ferry
public import FerryWorker
import FerryHTTP
import FerryPostgres
import FerrySupport
import FerryQueue
import Foundation

/// `claude.batch`: many Messages API requests through the Message Batches API, at its discount.
///
/// ```json
/// {"requests": [{"ref": "review-1", "model": "claude-sonnet-4-5", "max_tokens": 256,
///                "messages": [{"role": "user", "content": "…"}]}, …]}
/// ```
///
/// The job submits the batch and ends; a follow-up `claude.batch {"batch_id": …}` is scheduled
/// to ask about it (after `poll_interval_s`, then half again longer each time up to
/// `max_poll_interval_s`) — no thread waits for hours. Once the batch has ended, its results
/// file is streamed line by line and each result recorded in `claude_calls` as a single call
/// would be (`call_key` `batch:<batch id>:<ref>`, tokens, cost at `batch_price_share` of the
/// price, the answer), so results are found by `ref`. A submit run again after a crash finds
/// its batch in `claude_batches` and does not submit twice.
public struct ClaudeBatch: JobHandler {
    public static let type = "claude.batch"
    public static let requiredServices = [RequiredService(ClaudeService.self), RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "claude", maxAttempts: 8, backoff: Backoff(base: .seconds(10), max: .seconds(600)), timeout: .seconds(3600))

    public init() {}

    public struct Arguments: Codable, Sendable {
        /// The requests to submit (the submit step).
        public var requests: [Request]?
        /// The batch to ask about (the follow-up steps), the job that submitted it, and how often it was asked.
        public var batchID: String?
        public var submittedBy: String?
        public var poll: Int?

        enum CodingKeys: String, CodingKey {
            case requests, poll
            case batchID = "batch_id", submittedBy = "submitted_by"
        }

        /// Submits `requests` as one batch.
        public init(requests: [Request]) { self.requests = requests }

        /// Follows a submitted batch.
        public init(batchID: String, submittedBy: String, poll: Int) {
            self.batchID = batchID
            self.submittedBy = submittedBy
            self.poll = poll
        }
    }

    /// One request of the batch: a `claude.message`'s arguments with a `ref` that names it.
    public struct Request: Codable, Sendable {
        public var ref: String
        public var message: ClaudeMessage.Arguments

        public init(ref: String, message: ClaudeMessage.Arguments) {
            self.ref = ref
            self.message = message
            self.message.ref = ref
        }

        /// Written as the message's arguments, which carry the ref.
        public func encode(to encoder: any Encoder) throws {
            var message = message
            message.ref = ref
            try message.encode(to: encoder)
        }

        public init(from decoder: any Decoder) throws {
            message = try ClaudeMessage.Arguments(from: decoder)
            guard let ref = message.ref else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "every request needs a ref"))
            }
            self.ref = ref
        }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let settings = try ClaudeSettings(.object(context.settings.parameters))
        let api = try context.services.require(ClaudeService.self, for: Self.type)
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        if let batchID = arguments.batchID {
            guard batchID.utf8.count <= 200, batchID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw PermanentJobError("batch_id must be letters, digits, '_' or '-'")
            }
            try context.setResult(try pool.withConnection { db in
                try Self.follow(batchID, submittedBy: arguments.submittedBy ?? context.id, poll: max(1, min(arguments.poll ?? 1, 10_000)),
                                settings: settings, api: api, context: context, db: db)
            })
            return
        }
        guard let requests = arguments.requests, !requests.isEmpty, requests.count <= 10_000 else {
            throw PermanentJobError("give requests (1 to 10000, each with a ref), or a batch_id to follow")
        }
        let batchID = try pool.withConnection { db in try Self.submit(requests, settings: settings, api: api, jobID: context.id, db: db) }
        try context.dispatcher.enqueue(try Self.followUp(batchID, submittedBy: context.id, poll: 1, settings: settings, queue: context.job.queue))
        try context.setResult(["batch_id": .string(batchID), "requests": .int(Int64(requests.count)), "status": "submitted"] as JSONValue)
    }

    /// Submits the batch once per job; returns its id.
    static func submit(_ requests: [Request], settings: ClaudeSettings, api: MessagesAPI, jobID: String, db: PostgresConnection) throws -> String {
        if let known = try db.query("SELECT batch_id FROM claude_batches WHERE job_id = $1", [jobID]).first {
            return try known.decode("batch_id", as: String.self)
        }
        var refs = Set<String>()
        var items: [JSONValue] = []
        for (index, request) in requests.enumerated() {
            guard (1...64).contains(request.ref.utf8.count), request.ref.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw PermanentJobError("requests[\(index)].ref must be 1 to 64 letters, digits, '_' or '-'")
            }
            guard refs.insert(request.ref).inserted else { throw PermanentJobError("requests[\(index)].ref '\(request.ref)' is used twice") }
            _ = try settings.model(request.message.model)
            let body: JSONValue
            do {
                body = try JSONDecoder().decode(JSONValue.self, from: Data(try ClaudeMessage.request(request.message, defaultMaxTokens: settings.defaultMaxTokens).body))
            } catch let error as PermanentJobError {
                throw PermanentJobError("requests[\(index)] (\(request.ref)): \(error.message)")
            }
            items.append(["custom_id": .string(request.ref), "params": body])
        }
        let body = Array(try JSONEncoder().encode(["requests": JSONValue.array(items)] as JSONValue))
        let response: FerryHTTPClient.Response
        do {
            response = try api.post("/v1/messages/batches", body: body, timeout: settings.requestTimeout)
        } catch {
            if error.isTransient { throw ClaudeAPIError.transient("submitting the batch failed: \(error)") }
            throw PermanentJobError("submitting the batch failed: \(error)")
        }
        guard response.isSuccess else { throw failure(ClaudeAPIError.from(response)) }
        guard let batch = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)), let id = batch["id"]?.string, !id.isEmpty, id.utf8.count <= 200 else {
            throw ClaudeAPIError.transient("the API answered the batch with a body that is not a Message Batch")
        }
        try db.query("INSERT INTO claude_batches (job_id, batch_id, requests, status) VALUES ($1, $2, $3, $4)",
                     [jobID, id, requests.count, batch["processing_status"]?.string ?? "in_progress"])
        return id
    }

    /// The next look at `batchID`, later by half again each time.
    static func followUp(_ batchID: String, submittedBy: String, poll: Int, settings: ClaudeSettings, queue: String) throws(QueueError) -> Dispatcher.JobRequest {
        let delay = min(settings.pollInterval.secondsValue * pow(1.5, Double(min(max(poll - 1, 0), 40))), settings.maxPollInterval.secondsValue)
        return try .init(
            Self.self, Arguments(batchID: batchID, submittedBy: submittedBy, poll: poll),
            options: .init(queue: queue, runAt: Date().addingTimeInterval(delay), uniqueKey: "claude.batch:\(batchID):\(poll)")
        )
    }

    /// Asks about the batch; schedules the next ask, or records its results once it has ended.
    static func follow(
        _ batchID: String, submittedBy: String, poll: Int, settings: ClaudeSettings, api: MessagesAPI, context: JobContext, db: PostgresConnection
    ) throws -> JSONValue {
        let response: FerryHTTPClient.Response
        do {
            response = try api.get("/v1/messages/batches/\(batchID)", timeout: settings.requestTimeout)
        } catch {
            throw ClaudeAPIError.transient("asking about batch \(batchID) failed: \(error)")
        }
        guard response.isSuccess else { throw failure(ClaudeAPIError.from(response)) }
        guard let batch = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)), let status = batch["processing_status"]?.string else {
            throw ClaudeAPIError.transient("the API answered with a body that is not a Message Batch")
        }
        try db.query("UPDATE claude_batches SET status = $2 WHERE batch_id = $1", [batchID, String(status.prefix(40))])
        guard status == "ended" else {
            try context.dispatcher.enqueue(try followUp(batchID, submittedBy: submittedBy, poll: poll + 1, settings: settings, queue: context.job.queue))
            return ["batch_id": .string(batchID), "status": .string(status), "request_counts": batch["request_counts"] ?? .null]
        }
        guard let resultsURL = batch["results_url"]?.string else { throw ClaudeAPIError.transient("batch \(batchID) has ended but has no results_url yet") }
        // The key goes only where it came from.
        guard resultsURL.hasPrefix(api.baseURL + "/") else {
            throw PermanentJobError("batch \(batchID)'s results_url is not under \(URLRedaction.redact(api.baseURL)); not sending the key there")
        }
        let counts = try record(resultsURL, batchID: batchID, submittedBy: submittedBy, settings: settings, api: api, db: db) { done in
            context.reportProgress(done: done, total: nil, message: "\(done) results recorded")
        }
        try db.query("UPDATE claude_batches SET status = 'ended', recorded = $2, ended_at = now() WHERE batch_id = $1", [batchID, counts.succeeded + counts.failed])
        return ["batch_id": .string(batchID), "status": "ended", "succeeded": .int(Int64(counts.succeeded)), "failed": .int(Int64(counts.failed))]
    }

    /// Streams the results file (JSON lines) and records each result, 500 to a transaction.
    static func record(
        _ url: String, batchID: String, submittedBy: String, settings: ClaudeSettings, api: MessagesAPI, db: PostgresConnection, progress: (Int) -> Void
    ) throws -> (succeeded: Int, failed: Int) {
        var succeeded = 0, failed = 0
        var line: [UInt8] = []
        var pending: [JSONValue] = []
        func flush() throws {
            try db.transaction { tx in
                for result in pending {
                    if try recordOne(result, batchID: batchID, submittedBy: submittedBy, settings: settings, db: tx) { succeeded += 1 } else { failed += 1 }
                }
            }
            pending.removeAll(keepingCapacity: true)
            progress(succeeded + failed)
        }
        func take() throws {
            defer { line.removeAll(keepingCapacity: true) }
            guard line.contains(where: { $0 != 0x20 && $0 != 0x0D }) else { return }
            guard let result = try? JSONDecoder().decode(JSONValue.self, from: Data(line)) else {
                throw ClaudeAPIError.transient("batch \(batchID)'s results file has a line that is not JSON")
            }
            pending.append(result)
            if pending.count >= 500 { try flush() }
        }
        let head = try api.stream(url, timeout: settings.requestTimeout * 10) { head, block in
            guard head.isSuccess else { return .stop }
            for byte in block {
                if byte == 0x0A { try take() } else { line.append(byte) }
                // One result holds one Message: 32 MiB is far past any.
                if line.count > 32 << 20 { throw ClaudeAPIError.transient("batch \(batchID)'s results file has a line over 32 MiB") }
            }
            return .continue
        }
        guard head.isSuccess else { throw ClaudeAPIError.transient("fetching batch \(batchID)'s results answered HTTP \(head.status)") }
        try take()
        if !pending.isEmpty { try flush() }
        return (succeeded, failed)
    }

    /// Records one line of a results file; true when it succeeded.
    static func recordOne(_ line: JSONValue, batchID: String, submittedBy: String, settings: ClaudeSettings, db: PostgresConnection) throws -> Bool {
        let ref = String((line["custom_id"]?.string ?? "?").prefix(64))
        let result = line["result"]
        let message = result?["message"]
        let model = message?["model"]?.string ?? "unknown"
        let call = ClaudeCalls.Call(key: "batch:\(batchID):\(ref)", jobID: submittedBy, batchID: batchID, ref: ref, model: String(model.prefix(100)))
        guard result?["type"]?.string == "succeeded", let message, let tokens = ClaudeCalls.Tokens(message["usage"]) else {
            let kind = result?["type"]?.string ?? "unreadable"
            let detail = result?["error"]?["error"]?["message"]?.string ?? result?["error"]?["message"]?.string ?? ""
            let type = result?["error"]?["error"]?["type"]?.string ?? result?["error"]?["type"]?.string ?? kind
            try ClaudeCalls.failed(call, status: "failed", requestID: nil, error: "\(kind): \(type) \(detail)".prefix(1000).description, latencyMS: nil, on: db)
            return false
        }
        var answer = ClaudeMessage.answerFields(message)
        answer["ref"] = .string(ref)
        _ = try ClaudeCalls.succeeded(
            call, requestID: nil, stopReason: message["stop_reason"]?.string, tokens: tokens, price: settings.models[model]?.price ?? .init(),
            priceShare: settings.batchDiscount, latencyMS: 0, response: .object(answer), on: db
        )
        return true
    }

    /// What a failed status means for the job: retried (transient) or dead.
    static func failure(_ error: ClaudeAPIError) -> any Error {
        switch error {
        case .transient: return error
        case .rateLimited(let after, let message): return RateLimited(retryAfter: after, reason: "the Message Batches API answered 429: \(message)")
        case .invalidRequest, .authentication: return PermanentJobError(error.description)
        }
    }
}
