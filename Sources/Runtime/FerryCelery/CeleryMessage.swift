public import FerryQueue
public import Foundation

/// A task message as Celery's clients write it to a Redis list: kombu's Redis transport envelope
/// (`body`, `content-type`, `headers`, `properties`) around Celery's task protocol 2, serialized
/// as JSON. The body is Base64 of `[args, kwargs, embed]`.
public struct CeleryMessage: Sendable, Equatable {
    /// The task id (a UUID): it becomes the Ferry job's id.
    public var id: String
    /// The task's name (`app.tasks.send_digest`).
    public var task: String
    /// Positional arguments.
    public var args: [JSONValue]
    /// Keyword arguments.
    public var kwargs: [String: JSONValue]
    /// Not before this time (`eta`, or a `countdown` turned into one by the client).
    public var eta: Date?
    /// Not after this time.
    public var expires: Date?
    /// How many times Celery retried it already.
    public var retries: Int
    /// The hard time limit in seconds (`timelimit[0]`), else the soft one.
    public var timeLimit: Double?
    /// The client wants no result written.
    public var ignoreResult: Bool
    /// The tasks that follow it (a Celery `chain`), the next one first.
    public var chain: [Signature] = []
    /// kombu's delivery tag: a UUID drawn for each message sent (a task retried is sent anew,
    /// with a new tag), so it tells this message from any other in the list.
    public var deliveryTag: String?

    /// A task of a chain, as Celery describes it (`celery.canvas.Signature`).
    public struct Signature: Sendable, Equatable {
        public var task: String
        public var args: [JSONValue]
        public var kwargs: [String: JSONValue]
        /// The id the client gave it in advance (its `AsyncResult`).
        public var id: String?
        /// It does not take the previous task's result (`.si()`).
        public var immutable: Bool
    }

    /// Why a message cannot be taken, said so a person can act on it.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        /// The task id, when the message got far enough to have one.
        public var id: String?
        /// The task name, likewise.
        public var task: String?
        public var reason: String
        public var description: String { reason }
    }

    /// The fields of kombu's envelope that `parse` reads, in this order; the rest (a dozen
    /// headers, the delivery info) are checked as JSON but not built.
    static let fields = JSONFields([
        "body", "content-type", "properties.body_encoding", "properties.delivery_tag",
        "headers.task", "headers.id", "headers.eta", "headers.expires", "headers.retries", "headers.timelimit",
        "headers.ignore_result", "headers.group",
    ])

    /// Reads a message as kombu wrote it. Anything Ferry cannot run as written (another
    /// serializer, protocol 1, groups, chords, callbacks) is refused with the reason.
    public static func parse(_ bytes: [UInt8]) throws(Refusal) -> CeleryMessage {
        func refuse(_ reason: String, id: String? = nil, task: String? = nil) -> Refusal { Refusal(id: id, task: task, reason: reason) }
        guard let values = (try? Self.fields.values(in: bytes)) ?? nil else {
            throw refuse("not a kombu message: the payload is not a JSON object")
        }
        let body = values[0], contentType = values[1]?.string ?? "", bodyEncoding = values[2], deliveryTag = values[3]?.string
        let headers = (task: values[4], id: values[5], eta: values[6], expires: values[7], retries: values[8], timelimit: values[9],
                       ignoreResult: values[10], group: values[11])
        guard let task = headers.task?.string, let id = headers.id?.string else {
            throw refuse("not a Celery task message of protocol 2: headers.task and headers.id are missing (protocol 1 is not supported)")
        }
        func fail(_ reason: String) -> Refusal { refuse(reason, id: id, task: task) }
        guard !id.isEmpty, id.utf8.count <= 200 else { throw fail("the task id must be 1 to 200 bytes") }
        guard !task.isEmpty, task.utf8.count <= 200 else { throw fail("the task name must be 1 to 200 bytes") }
        guard contentType == "application/json" else {
            throw fail("content type '\(contentType)' is not supported: send tasks with task_serializer='json' (pickle, yaml and msgpack are refused)")
        }
        guard let body = body?.string else { throw fail("the message has no body") }
        let payload: Data
        switch bodyEncoding?.string {
        case "base64":
            guard let decoded = Data(base64Encoded: body) else { throw fail("the body is not valid Base64") }
            payload = decoded
        case nil, "utf-8":
            payload = Data(body.utf8)
        case let other?:
            throw fail("body encoding '\(other)' is not supported (base64)")
        }
        guard let parts = (try? JSONValue(parsing: Array(payload)))?.elements, parts.count == 3,
              let args = parts[0].elements, let kwargs = parts[1].object
        else {
            throw fail("the body is not Celery's [args, kwargs, embed]")
        }
        let embed = parts[2].object ?? [:]
        for (key, name) in [("chord", "chords"), ("callbacks", "link callbacks"), ("errbacks", "link_error callbacks")]
        where embed[key].map({ $0 != .null && $0 != .array([]) }) ?? false {
            throw fail("\(name) are not supported by Ferry's Celery ingress; send the tasks one by one (or as a Ferry chain or batch)")
        }
        if let group = headers.group, group != .null { throw fail("groups are not supported by Ferry's Celery ingress") }

        func instant(_ name: String, _ value: JSONValue?) throws(Refusal) -> Date? {
            guard let value, value != .null else { return nil }
            guard let text = value.string, let date = CeleryTime.parse(text) else {
                let shown = value.string ?? (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
                throw fail("\(name) '\(shown)' is not an ISO 8601 time")
            }
            return date
        }
        var retries = 0
        if let value = headers.retries, value != .null {
            guard let count = value.int, (0...1_000_000).contains(count) else { throw fail("retries must be a whole number from 0 to 1000000") }
            retries = count
        }
        var timeLimit: Double?
        if let limits = headers.timelimit?.elements {
            for limit in limits.prefix(2) where timeLimit == nil && limit != .null {
                guard let seconds = limit.double, seconds > 0, seconds <= 86_400 * 366 else { throw fail("timelimit must be seconds from 0 to a year") }
                timeLimit = seconds
            }
        }
        // Celery keeps a chain's remaining tasks last first: the next one is the last element.
        var chain: [Signature] = []
        if let signatures = embed["chain"], signatures != .null {
            guard let list = signatures.elements else { throw fail("embed.chain must be a list of signatures") }
            for signature in list.reversed() {
                guard let fields = signature.object, let name = fields["task"]?.string, !name.isEmpty, name.utf8.count <= 200 else {
                    throw fail("a task of the chain has no task name")
                }
                if let kind = fields["subtask_type"], kind != .null {
                    throw fail("the chain holds a \(kind.string ?? "nested") signature (\(name)); groups and chords are not supported by Ferry's Celery ingress")
                }
                let id = fields["options"]?.object?["task_id"]?.string
                if let id, id.isEmpty || id.utf8.count > 200 { throw fail("the task id of \(name) in the chain must be 1 to 200 bytes") }
                chain.append(Signature(
                    task: name, args: fields["args"]?.elements ?? [], kwargs: fields["kwargs"]?.object ?? [:], id: id,
                    immutable: fields["immutable"] == .bool(true)))
            }
        }
        return CeleryMessage(
            id: id, task: task, args: args, kwargs: kwargs, eta: try instant("eta", headers.eta), expires: try instant("expires", headers.expires),
            retries: retries, timeLimit: timeLimit, ignoreResult: headers.ignoreResult == .bool(true), chain: chain, deliveryTag: deliveryTag)
    }
}

/// Celery's times: ISO 8601 as Python's `datetime.isoformat()` writes them (`2026-12-07T21:44:17.474323+00:00`,
/// with or without the fraction; a time without an offset is UTC, as Celery's own reading treats it).
enum CeleryTime {
    static func parse(_ text: String) -> Date? {
        var text = text
        if !text.hasSuffix("Z"), text.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) == nil { text += "Z" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
