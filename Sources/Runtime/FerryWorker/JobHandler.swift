public import Foundation

/// What running a job of a ``JobDefinition`` does (the definition's type name, arguments and
/// settings are the handler's own).
///
/// Handlers run on the worker's own threads, so they may block (PostgreSQL, HTTP, SMTP calls);
/// one slow handler never holds up the others. A job that only waits on Redis is cheaper as an
/// ``AsyncJobHandler``: many of its attempts share a thread and a round trip. A handler should check
/// ``JobContext/checkCancellation()`` between steps of long work: after the job's timeout the
/// context is cancelled, and a handler that ignores it gets its worker process recycled.
///
/// Throw to fail the attempt (it is retried with backoff until its attempts run out); throw
/// ``PermanentJobError`` when retrying cannot help (bad input) to send the job straight to the
/// dead set.
public protocol JobHandler: JobDefinition {
    /// The services the job cannot run without (PostgreSQL, SMTP, an API's client): a worker
    /// that lacks one says so when it starts, and jobs that meet it missing wait for it without
    /// spending attempts. Empty by default.
    static var requiredServices: [RequiredService] { get }

    /// Runs one attempt of the job.
    func perform(_ arguments: Arguments, context: JobContext) throws
}

extension JobHandler {
    public static var requiredServices: [RequiredService] { [] }
}

/// A job family whose work waits on Redis (or other async calls) rather than computing: its
/// attempts are async, and a worker thread runs many of them together. While one waits for
/// Redis the others run, and the commands of all of them leave in one write
/// (`context.services.redis.pipeline(…)` with `await`) — no thread sleeps and wakes per job.
///
/// The handler must not block its thread (no libpq, libcurl or `Thread.sleep` here: use a
/// ``JobHandler`` for those); `try await context.sleep(for:)` suspends. Settings, retries,
/// timeouts (the job is cancelled: ``JobContext/checkCancellation()``, `Task.isCancelled`),
/// results and crash recovery are those of ``JobHandler``. A type with a `concurrency` limit
/// runs one attempt at a time per thread, as a suspect after a crash does.
public protocol AsyncJobHandler: JobDefinition {
    /// The services the job cannot run without; see ``JobHandler/requiredServices``.
    static var requiredServices: [RequiredService] { get }

    /// Runs one attempt of the job, on the worker thread's loop.
    ///
    /// The requirement is `nonisolated(nonsending)`: a handler compiled with the
    /// `NonisolatedNonsendingByDefault` feature (or marked so) runs on its caller's executor with
    /// no executor switch on entry and return; a plain `async` one works too, switching twice.
    nonisolated(nonsending) func perform(_ arguments: Arguments, context: JobContext) async throws
}

extension AsyncJobHandler {
    public static var requiredServices: [RequiredService] { [] }
}

/// A failure that retrying cannot fix: the job goes to the dead set at once with this reason.
public struct PermanentJobError: Error, Sendable, CustomStringConvertible {
    /// Why, for the dead set and the log: say what to change.
    public var message: String
    /// A permanent failure with `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Thrown by ``JobContext/checkCancellation()`` once the job is cancelled (timeout or shutdown).
public struct JobCancelled: Error, Sendable, CustomStringConvertible {
    /// Why: the timeout, or the worker shutting down.
    public var reason: String
    public var description: String { "cancelled: \(reason)" }
}

/// Thrown by a handler that learned it is being rate limited by the service it calls (a `429`
/// with `retry-after`, a reset header): the job goes back without spending an attempt, and when
/// its type has a `rate:` limit the budget is held for the whole fleet until then — one 429 does
/// not turn into a hundred. Without a rate limit the job is retried after `retryAfter`.
public struct RateLimited: Error, Sendable, CustomStringConvertible {
    /// How long the service asked to wait.
    public var retryAfter: Duration
    /// What the service said, for the log and the job's record.
    public var reason: String

    /// Limited for `retryAfter`.
    public init(retryAfter: Duration, reason: String = "rate limited by the service") {
        self.retryAfter = retryAfter
        self.reason = reason
    }

    /// Limited until `date`.
    public init(until date: Date, reason: String = "rate limited by the service") {
        let seconds = min(max(0, date.timeIntervalSinceNow), 86_400)
        self.init(retryAfter: .milliseconds(Int64((seconds * 1000).rounded(.up))), reason: reason)
    }

    public var description: String { "\(reason); limited for \(retryAfter)" }
}
