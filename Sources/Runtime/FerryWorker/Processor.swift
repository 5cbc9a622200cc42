import FerrySupport
import FerryQueue
import Foundation
import Logging
import Metrics

/// Runs one fetched job: finds its handler, decodes its arguments, runs it, and decides how the
/// attempt ends (``Settlement``). It writes nothing to Redis: the executor settles the outcome at
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

    /// Runs `fetched` on the calling thread (executor `slot`), counting it in that thread's `metrics`.
    func run(_ fetched: FetchedJob, slot: Int, metrics: JobMetrics) -> Outcome {
        let started = ContinuousClock.now
        let job: Job
        switch fetched.job {
        case .failure(let error):
            metrics.outcome(type: "unknown", queue: fetched.queue, "dead").increment()
            metrics.count("unknown", dead: 1)
            log(fetched: fetched, job: nil, outcome: "dead", error: error.description, since: started)
            return .settle(.bury(JobFailure(type: "MalformedJob", message: error.description)))
        case .success(let parsed):
            job = parsed
        }
        guard let entry = registry[job.type] else {
            let message = "no handler for job type '\(job.type)'; this worker knows: \(registry.types.joined(separator: ", "))"
            metrics.outcome(type: job.type, queue: job.queue, "dead").increment()
            metrics.count(job.type, dead: 1)
            log(fetched: fetched, job: job, outcome: "dead", error: message, since: started)
            return .settle(.bury(JobFailure(type: "UnknownJobType", message: message)))
        }

        guard limits.acquire(job.type, giveUp: isStopping) else { return .interrupted }
        defer { limits.release(job.type) }

        // Job.decode has checked timeout_s, run_at and enqueued_at against their ranges.
        let timeout = job.timeoutS.flatMap { Duration(checkedSeconds: $0) } ?? entry.settings.timeout
        let context = JobContext(job: job, logger: logger, services: services, settings: entry.settings, dispatcher: dispatcher)
        let instruments = metrics.instruments(type: job.type, queue: job.queue)
        let latency = Date().timeIntervalSince1970 - (job.runAt ?? job.enqueuedAt)
        instruments.latency.recordNanoseconds(Int64(min(max(0, latency), 1e9) * 1e9))
        slots.start(slot: slot, fetched: fetched, job: job, context: context, timeout: timeout)

        var failure: (any Error)?
        do {
            try entry.run(job.args, context)
        } catch {
            failure = error
        }
        let abandoned = slots.finish(slot: slot)
        let duration = ContinuousClock.now - started
        instruments.duration.recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        if abandoned { return .abandoned }

        if let cancelled = failure as? JobCancelled, cancelled.reason == Self.shutdownReason {
            log(fetched: fetched, job: job, outcome: "interrupted", error: "put back: the worker is shutting down", since: started)
            return .interrupted
        }
        if let limited = failure as? RateLimited, registry[job.type]?.settings.rate != nil {
            metrics.outcome(type: job.type, queue: job.queue, "limited").increment()
            log(fetched: fetched, job: job, outcome: "limited", error: limited.description, since: started)
            return .limited(limited.retryAfter)
        }
        guard let error = failure else {
            instruments.succeeded.increment()
            metrics.count(job.type, succeeded: 1)
            log(fetched: fetched, job: job, outcome: "succeeded", error: nil, since: started)
            if let result = context.result { return .settle(.succeeded(result: result, ttl: entry.settings.resultTTL)) }
            return .settle(.done)
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
        case .retry(_, let delay):
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
        case let error as MissingService:
            return ("MissingService", error.description, false)
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
        } else {
            logger.warning("job failed", metadata: metadata)
        }
    }
}
