import FerrySupport
import FerryQueue
import Foundation
import Logging
import Metrics

/// Runs one fetched job: finds its handler, decodes its arguments, runs it, and decides how the
/// attempt ends (``Settlement``). It writes nothing to Redis: the job thread settles the outcome at
/// once, and replays it after a Redis failure.
struct Processor: Sendable {
    let registry: JobRegistry
    let services: JobServices
    let slots: ExecutorSlots
    let limits: TypeLimits
    let dispatcher: Dispatcher
    /// True once the process is stopping (a job waiting for a type slot then goes back).
    let isStopping: @Sendable () -> Bool
    let logger: Logger

    enum Outcome: Equatable {
        /// The attempt ended; write this.
        case settle(Settlement)
        /// The watchdog gave up on this attempt and settled it itself (the process is being recycled).
        case abandoned
        /// Cancelled by shutdown before it finished: to be put back, not counted as a failure.
        case interrupted
        /// The handler reported that the service it calls limits it (``RateLimited``): the job's
        /// rate limiter holds its budget and takes it back, spending no attempt.
        case limited(Duration)
    }

    /// The cancellation reason used when the shutdown timeout runs out.
    static let shutdownReason = "worker shutting down"
    /// How long a job whose service this worker lacks waits before it is tried again.
    static let unconfiguredWait: Duration = .seconds(60)

    /// Runs `fetched` on the calling thread (job thread `slot`), counting it in that thread's `metrics`.
    /// An async type's attempt runs to its end on this thread too (alone: ``JobLoop/runAlone(_:)``).
    func run(_ fetched: FetchedJob, slot: Int, metrics: JobMetrics) -> Outcome {
        let started = ContinuousClock.now
        let (job, entry): (Job, JobRegistry.Entry)
        switch resolve(fetched, metrics: metrics, since: started) {
        case .ended(let outcome): return outcome
        case .found(let found, let its): (job, entry) = (found, its)
        }
        guard limits.acquire(job.type, giveUp: isStopping) else { return .interrupted }
        defer { limits.release(job.type) }
        let attempt = begin(fetched, job: job, entry: entry, slot: slot, metrics: metrics, since: started)
        var failure: (any Error)?
        switch entry.body {
        case .blocking(let body):
            do {
                try body(job.args, attempt.context)
            } catch {
                failure = error
            }
        case .async(let body):
            failure = JobLoop.runAlone { [context = attempt.context] cancelTask in
                context.onCancel(cancelTask)
                do {
                    try await body(job.args, context)
                    return nil
                } catch {
                    return error
                }
            }
        }
        return end(attempt, failure: failure, metrics: metrics)
    }

    /// Runs `fetched`, an attempt of a type that runs together with others (``JobRegistry/Entry/runsTogether``),
    /// as a task of job thread `slot`.
    /// `cancelTask` cancels the task it runs in (the job's timeout, shutdown).
    nonisolated(nonsending) func runAsync(_ fetched: FetchedJob, slot: Int, metrics: JobMetrics, cancelTask: @escaping @Sendable () -> Void) async -> Outcome {
        let started = ContinuousClock.now
        let (job, entry): (Job, JobRegistry.Entry)
        switch resolve(fetched, metrics: metrics, since: started) {
        case .ended(let outcome): return outcome
        case .found(let found, let its): (job, entry) = (found, its)
        }
        guard case .async(let body) = entry.body else { return run(fetched, slot: slot, metrics: metrics) }
        let attempt = begin(fetched, job: job, entry: entry, slot: slot, metrics: metrics, since: started)
        attempt.context.onCancel(cancelTask)
        var failure: (any Error)?
        do {
            try await body(job.args, attempt.context)
        } catch {
            failure = error
        }
        return end(attempt, failure: failure, metrics: metrics)
    }

    /// An attempt under way.
    private struct Attempt {
        let fetched: FetchedJob
        let entry: JobRegistry.Entry
        let context: JobContext
        let timeout: Duration
        let instruments: JobMetrics.Instruments
        let slot: Int
        let token: Int
        let started: ContinuousClock.Instant
        var job: Job { context.job }
    }

    /// The job and its type's entry, or how the attempt ends when there is none.
    private enum Resolved {
        case found(Job, JobRegistry.Entry)
        case ended(Outcome)
    }

    private func resolve(_ fetched: FetchedJob, metrics: JobMetrics, since started: ContinuousClock.Instant) -> Resolved {
        let job: Job
        switch fetched.job {
        case .failure(let error):
            metrics.outcome(type: "unknown", queue: fetched.queue, "dead").increment()
            metrics.count("unknown", dead: 1)
            log(fetched: fetched, job: nil, outcome: "dead", error: error.description, since: started)
            return .ended(.settle(.bury(JobFailure(type: "MalformedJob", message: error.description))))
        case .success(let parsed):
            job = parsed
        }
        guard let entry = registry[job.type] else {
            let message = "no handler for job type '\(job.type)'; this worker knows: \(registry.types.joined(separator: ", "))"
            metrics.outcome(type: job.type, queue: job.queue, "dead").increment()
            metrics.count(job.type, dead: 1)
            log(fetched: fetched, job: job, outcome: "dead", error: message, since: started)
            return .ended(.settle(.bury(JobFailure(type: "UnknownJobType", message: message))))
        }
        if let expiresAt = job.expiresAt, Date().timeIntervalSince1970 > expiresAt {
            let message = "not started: it expired at \(Date(timeIntervalSince1970: expiresAt).formatted(.iso8601))"
            metrics.outcome(type: job.type, queue: job.queue, "expired").increment()
            metrics.count(job.type, dead: 1)
            log(fetched: fetched, job: job, outcome: "expired", error: message, since: started)
            return .ended(.settle(.bury(JobFailure(type: "Expired", message: message))))
        }
        return .found(job, entry)
    }

    /// Starts the attempt: its context, its latency, and its slot entry (the watchdog's deadline).
    private func begin(
        _ fetched: FetchedJob, job: Job, entry: JobRegistry.Entry, slot: Int, metrics: JobMetrics, since started: ContinuousClock.Instant
    ) -> Attempt {
        // Job.decode has checked timeout_s, run_at and enqueued_at against their ranges.
        let timeout = job.timeoutS.flatMap { Duration(checkedSeconds: $0) } ?? entry.settings.timeout
        let context = JobContext(job: job, logger: logger, services: services, entry: entry, dispatcher: dispatcher)
        let instruments = metrics.instruments(type: job.type, queue: job.queue)
        let latency = Date().timeIntervalSince1970 - (job.runAt ?? job.enqueuedAt)
        instruments.latency.recordNanoseconds(Int64(min(max(0, latency), 1e9) * 1e9))
        let token = slots.start(slot: slot, fetched: fetched, context: context, timeout: timeout)
        return Attempt(
            fetched: fetched, entry: entry, context: context, timeout: timeout, instruments: instruments, slot: slot, token: token, started: started)
    }

    /// Decides how the attempt ended, from what its handler threw (nil: it succeeded).
    private func end(_ attempt: Attempt, failure: (any Error)?, metrics: JobMetrics) -> Outcome {
        let (fetched, job, entry, context, timeout, started) = (attempt.fetched, attempt.job, attempt.entry, attempt.context, attempt.timeout, attempt.started)
        let abandoned = slots.finish(slot: attempt.slot, token: attempt.token)
        let duration = ContinuousClock.now - started
        attempt.instruments.duration.recordNanoseconds(
            Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        if abandoned { return .abandoned }

        if let cancelled = failure as? JobCancelled, cancelled.reason == Self.shutdownReason {
            log(fetched: fetched, job: job, outcome: "interrupted", error: "put back: the worker is shutting down", since: started)
            return .interrupted
        }
        if let limited = failure as? RateLimited, entry.settings.rate != nil {
            metrics.outcome(type: job.type, queue: job.queue, "limited").increment()
            log(fetched: fetched, job: job, outcome: "limited", error: limited.description, since: started)
            return .limited(limited.retryAfter)
        }
        guard let error = failure else {
            attempt.instruments.succeeded.increment()
            metrics.count(job.type, succeeded: 1)
            log(fetched: fetched, job: job, outcome: "succeeded", error: nil, since: started)
            if let result = context.result { return .settle(.succeeded(result: result, ttl: entry.settings.resultTTL)) }
            if job.keepRecord == true { return .settle(.succeeded(result: Array("null".utf8), ttl: entry.settings.resultTTL)) }
            return .settle(.done)
        }

        if let missing = error as? MissingService {
            // Retrying here cannot help until the configuration changes: no attempt is spent.
            metrics.outcome(type: job.type, queue: job.queue, "waiting").increment()
            log(fetched: fetched, job: job, outcome: "waiting", error: missing.description, since: started)
            return .settle(.retry(JobFailure(type: "MissingService", message: missing.description), after: Self.unconfiguredWait, spendsAttempt: false))
        }
        let (type, message, permanent) = classify(error, timeout: timeout, context: context)
        let settlement = Settlement.after(
            failure: JobFailure(type: type, message: message), job: job, permanent: permanent,
            // A service's "limited until" is a floor for the next attempt (types without a rate limit).
            backoff: { max(entry.settings.backoff.delay(afterAttempt: $0), (error as? RateLimited)?.retryAfter ?? .zero) }
        )
        switch settlement {
        case .bury(let failure):
            metrics.outcome(type: job.type, queue: job.queue, "dead").increment()
            metrics.count(job.type, dead: 1)
            log(fetched: fetched, job: job, outcome: "dead", error: failure.message, since: started)
        case .retry(_, let delay, _):
            metrics.outcome(type: job.type, queue: job.queue, "retried").increment()
            metrics.count(job.type, retried: 1)
            log(fetched: fetched, job: job, outcome: "retried", error: "\(message); next attempt in \(Int(delay.secondsValue.rounded()))s", since: started)
        case .done, .succeeded:
            break
        }
        return .settle(settlement)
    }

    private func classify(_ error: any Error, timeout: Duration, context: JobContext) -> (type: String, message: String, permanent: Bool) {
        switch error {
        case let error as JobCancelled:
            return ("Timeout", "exceeded its \(timeout) timeout (\(error.reason))", false)
        case let error as PermanentJobError:
            return ("PermanentJobError", error.message, true)
        case let error as InvalidArguments:
            return ("InvalidArguments", error.description, true)
        case let error as RateLimited:
            return ("RateLimited", error.description, false)
        case let error as any RetryAwareError where error.isPermanent:
            // Retrying cannot mend it (an integrity violation, say): dead at once, with its reason.
            return (String(describing: Swift.type(of: error)), String(describing: error), true)
        default:
            if context.isCancelled {
                return ("Timeout", "exceeded its \(timeout) timeout and then failed: \(error)", false)
            }
            return (String(describing: Swift.type(of: error)), String(describing: error), false)
        }
    }

    private func log(fetched: FetchedJob, job: Job?, outcome: String, error: String?, since started: ContinuousClock.Instant) {
        // Successes are logged at debug: at thousands of jobs a second a line each costs more than
        // the jobs (ferry_jobs_total counts them); failures at warning.
        let level: Logger.Level = outcome == "succeeded" ? .debug : outcome == "limited" ? .notice : .warning
        guard logger.logLevel <= level else { return }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "job_id": "\(job?.id ?? "?")", "job_type": "\(job?.type ?? "?")", "queue": "\(fetched.queue)",
            "attempt": "\(job?.attempt ?? 0)", "duration_ms": "\((milliseconds * 1000).rounded() / 1000)", "outcome": "\(outcome)",
        ]
        if let error { metadata["error"] = "\(error)" }
        if outcome == "succeeded" {
            logger.debug("job finished", metadata: metadata)
        } else if outcome == "limited" {
            logger.notice("job limited by the service it calls: its budget is held and the job waits, no attempt spent", metadata: metadata)
        } else if outcome == "waiting" {
            logger.warning("job waits for a service this worker is not configured with: no attempt spent, tried again in a minute", metadata: metadata)
        } else {
            logger.warning("job failed", metadata: metadata)
        }
    }
}
