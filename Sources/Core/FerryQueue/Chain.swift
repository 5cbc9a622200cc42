import FerryRedis
import Foundation

/// Chains: job B runs after job A succeeds, with A's result passed in (Celery's `chain`,
/// BullMQ's flows read the other way round).
///
/// A carries B in its envelope (`then`: `{"type", "args", "queue", "max_attempts", "then"}`, and
/// for chains that come from elsewhere `id`, `origin` and `result_as`), through its retries; when
/// A succeeds, the worker enqueues B with A's result as the argument `parent_result` (or the one
/// `result_as` names; none when it is null; null when A handed nothing back) before it
/// acknowledges A. B is unique per
/// A (`chain:<A's id>`), so an A that runs again after a crash does not enqueue B twice while
/// B is queued or running. A dead A ends the chain there; retrying A from the dead set goes on.
public enum Chain {
    /// `then` for a request: `A.options.then = Chain.then(b)`; B may carry its own `then`.
    public static func then(_ next: Dispatcher.JobRequest) -> JSONValue {
        var link: [String: JSONValue] = ["type": .string(next.type), "args": next.args]
        if let queue = next.options.queue { link["queue"] = .string(queue) }
        if let attempts = next.options.maxAttempts { link["max_attempts"] = .int(Int64(attempts)) }
        if let then = next.options.then { link["then"] = then }
        return .object(link)
    }

    /// The request a `then` value describes; a clear error when it is not one.
    public static func link(_ value: JSONValue) throws(QueueError) -> Dispatcher.JobRequest {
        guard case .object(let fields) = value, case .string(let type)? = fields["type"] else {
            throw .invalidJob("then must be an object with the next job's type, like {\"type\": \"email.send\", \"args\": {…}}")
        }
        try Names.validate(type, what: "then.type")
        let args = fields["args"] ?? .object([:])
        guard case .object = args else { throw .invalidJob("then.args must be a JSON object") }
        var options = EnqueueOptions()
        if let queue = fields["queue"] {
            guard case .string(let name) = queue else { throw .invalidJob("then.queue must be a queue name") }
            try Names.validate(name, what: "then.queue")
            options.queue = name
        }
        if let attempts = fields["max_attempts"] {
            guard case .int(let number) = attempts, (Int64(JobRules.attempts.lowerBound)...Int64(JobRules.attempts.upperBound)).contains(number) else {
                throw .invalidJob("then.max_attempts must be from \(JobRules.attempts.lowerBound) to \(JobRules.attempts.upperBound)")
            }
            options.maxAttempts = Int(number)
        }
        if let then = fields["then"], then != .null {
            _ = try link(then)
            options.then = then
        }
        if let id = fields["id"] {
            guard case .string(let text) = id, !text.isEmpty, text.utf8.count <= 200 else { throw .invalidJob("then.id must be 1 to 200 bytes") }
            options.id = text
        }
        if let origin = fields["origin"], origin != .null { options.origin = origin }
        if let resultAs = fields["result_as"], resultAs != .null {
            guard case .string(let name) = resultAs, !name.isEmpty else { throw .invalidJob("then.result_as must be an argument name, or null") }
        }
        return Dispatcher.JobRequest(type: type, args: args, options: options)
    }

    /// Enqueues the job that follows `job` (which succeeded with `result`, JSON bytes), if it has
    /// one. Returns its id, or nil when the chain ends here.
    @discardableResult
    public static func enqueueNext(after job: Job, result: [UInt8]?, dispatcher: Dispatcher) throws(QueueError) -> String? {
        guard let then = job.then, then != .null else { return nil }
        var next = try link(then)
        var args = next.args.object ?? [:]
        // `result_as`: absent, `parent_result`; a name, that argument; null, the result is not passed.
        let resultAs = then.object?["result_as"]
        if resultAs != .null {
            args[resultAs?.string ?? "parent_result"] = result.flatMap { try? JSONValue(parsing: $0) } ?? .null
        }
        next.args = .object(args)
        next.options.uniqueKey = "chain:" + job.id
        next.options.uniqueFor = .seconds(86_400)
        return try dispatcher.enqueue(next)
    }
}
