public import FerryQueue
public import FerryRedis
public import FerryWorker
import Foundation

/// Writes a Celery task's outcome where Celery's Redis result backend keeps it
/// (`celery-task-meta-<id>`, with the backend's expiry) and publishes it on the channel of the same
/// name, so a Celery client's `AsyncResult(id).get()` returns without polling: `SUCCESS` with the
/// job's result (`None` without one), `FAILURE` with the error as an exception of the error's type,
/// `RETRY` between attempts, `REVOKED` for a task that expired before it started. A success is
/// never overwritten (a job run twice after a crash cannot turn it into a failure).
public final class CeleryResults: JobOutcomeObserver {
    let pool: RedisConnectionPool
    /// How long a result is kept (Celery's `result_expires`, one day by default).
    public let expires: Duration

    public init(redis: RedisConfiguration, expires: Duration = .seconds(86_400)) {
        self.pool = RedisConnectionPool(configuration: redis, capacity: 4)
        self.expires = expires
    }

    /// A task's state as Celery records it.
    public enum State: Sendable, Equatable {
        case success(result: [UInt8]?)
        case failure(type: String, message: String)
        case retry(type: String, message: String)
        case revoked(reason: String)
    }

    public func attemptEnded(_ job: Job, _ outcome: JobOutcome) throws {
        guard let origin = job.origin?.object, origin["protocol"] == "celery", origin["result"] != .bool(false) else { return }
        switch outcome {
        case .succeeded(let result): try write(id: job.id, .success(result: result))
        case .retrying(let failure): try write(id: job.id, .retry(type: failure.type, message: failure.message))
        case .dead(let failure) where failure.type == "Expired": try write(id: job.id, .revoked(reason: failure.message))
        case .dead(let failure): try write(id: job.id, .failure(type: failure.type, message: failure.message))
        }
    }

    /// Writes and publishes the state of task `id`.
    public func write(id: String, _ state: State) throws {
        let meta = Self.meta(id: id, state, at: Date())
        try pool.withConnection { redis in
            _ = try redis.run(Self.store, keys: [.string("celery-task-meta-" + id)], arguments: [.bytes(meta), RedisArgument(max(1, Int(expires.secondsValue)))])
        }
    }

    /// The backend's JSON: `{"status", "result", "traceback", "children", "date_done", "task_id"}`,
    /// an exception as `{"exc_type", "exc_message": [message], "exc_module"}`.
    static func meta(id: String, _ state: State, at date: Date) -> [UInt8] {
        func exception(_ type: String, _ message: String, module: String) -> String {
            #"{"exc_type": \#(quoted(type)), "exc_message": [\#(quoted(message))], "exc_module": \#(quoted(module))}"#
        }
        let (status, result): (String, String)
        switch state {
        case .success(let bytes): (status, result) = ("SUCCESS", bytes.map { String(decoding: $0, as: UTF8.self) } ?? "null")
        // Not a module Celery's client has: it makes an exception class of this name.
        case .failure(let type, let message): (status, result) = ("FAILURE", exception(type, message, module: "ferry"))
        case .retry(let type, let message): (status, result) = ("RETRY", exception(type, message, module: "ferry"))
        case .revoked(let reason): (status, result) = ("REVOKED", exception("TaskRevokedError", reason, module: "celery.exceptions"))
        }
        let text = #"{"status": "\#(status)", "result": \#(result), "traceback": null, "children": [], "date_done": \#(quoted(isoformat(date))), "task_id": \#(quoted(id))}"#
        return Array(text.utf8)
    }

    static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    /// As Python's `datetime.isoformat()` writes an aware UTC time: `2026-12-07T21:44:17.474323+00:00`.
    static func isoformat(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = floor(seconds)
        let micros = min(999_999, Int(((seconds - whole) * 1_000_000).rounded()))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: whole))
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, micros)
    }

    /// SETEX and PUBLISH, unless a success is stored. KEYS: the meta key. ARGV: the meta, seconds.
    static let store = RedisScript(name: "celery_store", source: """
        local current = redis.call('GET', KEYS[1])
        if current and string.find(current, '"status": "SUCCESS"', 1, true) then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        redis.call('PUBLISH', KEYS[1], ARGV[1])
        return 1
        """)
}
