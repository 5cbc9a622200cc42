public import FerryQueue
public import Logging
import Foundation
import Synchronization

/// What a running job knows and can use: who it is, a logger, cancellation, progress, services.
public final class JobContext: Sendable {
    /// The job being run, as it came from its queue.
    public let job: Job
    /// Shared clients: Redis, PostgreSQL, HTTP, SMTP.
    public let services: JobServices
    /// The job type's effective settings (including its `parameters`).
    public var settings: JobSettings { entry.settings }
    /// The job type's registry entry: held by reference, so making a context copies no settings.
    private let entry: JobRegistry.Entry
    /// Enqueues jobs in the worker's namespace, with the configured defaults of their types.
    public let dispatcher: Dispatcher

    private let baseLogger: Logger
    /// Made on first use: most jobs never log, and a logger with metadata costs allocations.
    private let jobLogger = Mutex<Logger?>(nil)
    private let cancellation = Mutex<String?>(nil)
    /// Made by the first ``sleep(for:)``: most jobs never sleep, and a condition costs a mutex and
    /// a condition variable to set up.
    private let sleeper = Mutex<NSCondition?>(nil)
    private let progressState = Mutex<JobProgress?>(nil)
    /// Cancels the task of an async attempt (set when it starts).
    private let cancelTask = Mutex<(@Sendable () -> Void)?>(nil)
    private let resultState = Mutex<[UInt8]?>(nil)

    /// The largest result a job may hand back, encoded.
    public static let resultLimit = 512 * 1024

    init(job: Job, logger: Logger, services: JobServices, entry: JobRegistry.Entry, dispatcher: Dispatcher) {
        self.job = job
        self.dispatcher = dispatcher
        self.baseLogger = logger
        self.services = services
        self.entry = entry
    }

    /// Carries the job's type, id, queue and attempt as metadata.
    public var logger: Logger {
        jobLogger.withLock { cached in
            if let cached { return cached }
            var logger = baseLogger
            logger[metadataKey: "job_id"] = "\(job.id)"
            logger[metadataKey: "job_type"] = "\(job.type)"
            logger[metadataKey: "queue"] = "\(job.queue)"
            logger[metadataKey: "attempt"] = "\(job.attempt)"
            cached = logger
            return logger
        }
    }

    /// The job's id.
    public var id: String { job.id }
    /// Which attempt this is: 1 for the first run.
    public var attempt: Int { job.attempt }

    // MARK: Enqueueing

    /// Enqueues a job of `definition` and returns its id, with the worker's settings for its
    /// type. Blocks the thread for one round trip (for ``JobHandler``s).
    @discardableResult
    public func enqueue<Definition: JobDefinition>(
        _ definition: Definition.Type, _ arguments: Definition.Arguments, options: EnqueueOptions = EnqueueOptions()
    ) throws(QueueError) -> String {
        try dispatcher.enqueue(definition, arguments, options: options)
    }

    /// Enqueues a job of `definition` and returns its id; in an ``AsyncJobHandler`` the commands
    /// leave with those of the other jobs on the thread, in one write.
    @discardableResult
    public nonisolated(nonsending) func enqueue<Definition: JobDefinition>(
        _ definition: Definition.Type, _ arguments: Definition.Arguments, options: EnqueueOptions = EnqueueOptions()
    ) async throws(QueueError) -> String {
        try await dispatcher.enqueue(batch: [Dispatcher.JobRequest(definition, arguments, options: options)], over: services.redis)[0]
    }

    // MARK: Kept values

    /// This job's store: values kept across its attempts, under its id.
    public var store: JobStore { JobStore(keys: dispatcher.keys, queue: job.queue, jobID: job.id) }

    /// The value this job kept under `name` in an earlier attempt, if any.
    public func kept(_ name: String) throws -> [UInt8]? {
        try dispatcher.redis.withConnection { connection in try store.value(name, on: connection) }
    }

    /// Keeps `value` under `name` for `ttl`, for this job's later attempts.
    public func keep(_ name: String, _ value: [UInt8], for ttl: Duration) throws {
        try dispatcher.redis.withConnection { connection in try store.set(name, to: value, for: ttl, on: connection) }
    }

    /// Drops what this job kept under `name`.
    public func forget(_ name: String) throws {
        try dispatcher.redis.withConnection { connection in try store.remove(name, on: connection) }
    }

    // MARK: Batches

    /// Adds jobs to this job's batch: they run in the batch's queue, and the batch completes only
    /// when they have finished too (the batch cannot complete before this job ends). Returns their ids.
    @discardableResult
    public func addToBatch(_ jobs: [Dispatcher.JobRequest]) throws -> [String] {
        guard let batch = job.batchMembership else { throw PermanentJobError("job \(job.id) (\(job.type)) is not part of a batch, so it cannot add jobs to one") }
        return try Batches(dispatcher: dispatcher).add(jobs, to: batch.id, queue: job.queue)
    }

    // MARK: Cancellation

    /// True once the job has been asked to stop (its timeout passed, or the worker is shutting down).
    public var isCancelled: Bool { cancellation.withLock { $0 != nil } }

    /// Throws ``JobCancelled`` if the job has been asked to stop. Call it between steps of long work.
    public func checkCancellation() throws(JobCancelled) {
        if let reason = cancellation.withLock({ $0 }) { throw JobCancelled(reason: reason) }
    }

    /// Sleeps for `duration`, waking early (and throwing) when the job is cancelled.
    public func sleep(for duration: Duration) throws(JobCancelled) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let deadline = Date().addingTimeInterval(seconds)
        let wake = sleeper.withLock { condition in
            if let condition { return condition }
            let made = NSCondition()
            condition = made
            return made
        }
        wake.lock()
        defer { wake.unlock() }
        while Date() < deadline {
            if let reason = cancellation.withLock({ $0 }) { throw JobCancelled(reason: reason) }
            _ = wake.wait(until: deadline)
        }
        try checkCancellation()
    }

    /// Sleeps for `duration` without holding the thread, waking early (and throwing) when the
    /// job is cancelled. For ``AsyncJobHandler``s.
    public nonisolated(nonsending) func sleep(for duration: Duration) async throws(JobCancelled) {
        try checkCancellation()
        do {
            try await Task.sleep(for: duration)
        } catch {
            try checkCancellation()
            throw JobCancelled(reason: "the task was cancelled")
        }
        try checkCancellation()
    }

    /// Has `cancel` called when the job is cancelled (at once if it already is): how an async
    /// attempt's task learns of its timeout.
    func onCancel(_ cancel: @escaping @Sendable () -> Void) {
        cancelTask.withLock { $0 = cancel }
        if isCancelled { cancel() }
    }

    func cancel(reason: String) {
        cancellation.withLock { if $0 == nil { $0 = reason } }
        cancelTask.withLock { $0 }?()
        // A sleep that starts after this finds the reason set before it waits.
        guard let wake = sleeper.withLock({ $0 }) else { return }
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    // MARK: Result

    /// Hands `value` back to whoever enqueued the job: encoded as JSON and, once the job succeeds,
    /// kept in Redis for the type's `result_ttl` (read with `JobResults`, `GET /api/v1/jobs/{id}`
    /// or `ferry job ID`). A later call replaces an earlier one. Throws ``PermanentJobError`` for
    /// a value that does not encode or is larger than ``resultLimit``.
    public func setResult(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw PermanentJobError("the job's result could not be encoded as JSON: \(error)")
        }
        guard data.count <= Self.resultLimit else {
            throw PermanentJobError("the job's result is \(data.count) bytes; results are limited to \(Self.resultLimit)")
        }
        resultState.withLock { $0 = Array(data) }
    }

    /// The result set by ``setResult(_:)``, as JSON bytes.
    var result: [UInt8]? { resultState.withLock { $0 } }

    // MARK: Progress

    /// Reports how far long work has come; shown by `ferry stats`, the admin endpoint and the log.
    public func reportProgress(done: Int, total: Int? = nil, message: String? = nil) {
        let progress = JobProgress(done: done, total: total, message: message)
        progressState.withLock { $0 = progress }
        var metadata: Logger.Metadata = ["done": "\(done)"]
        if let total { metadata["total"] = "\(total)" }
        logger.debug("progress \(message ?? "")", metadata: metadata)
    }

    /// The last progress reported.
    public var progress: JobProgress? { progressState.withLock { $0 } }
}

/// A job's last reported progress.
public struct JobProgress: Sendable, Equatable, Codable {
    /// Units of work done.
    public var done: Int
    /// Units of work in all, when known (then the dashboard shows a percentage).
    public var total: Int?
    /// What is being done now, for a person.
    public var message: String?
}
