import FerryQueue
import Metrics
import Synchronization

/// The outcomes of one job thread's jobs by type, since housekeeping last took them. The lock is
/// the job thread's own (housekeeping takes it once per heartbeat), so no two job threads contend.
final class OutcomeTally: Sendable {
    private let counts = Mutex<[String: TypeHealth.Counts]>([:])

    /// Everything counted so far, leaving the tally empty.
    func take() -> [String: TypeHealth.Counts] {
        counts.withLock { counts in
            defer { counts.removeAll(keepingCapacity: true) }
            return counts
        }
    }

    /// Adds counts: a job thread's, or those Redis did not take.
    func putBack(_ taken: [String: TypeHealth.Counts]) {
        counts.withLock { $0.merge(taken, uniquingKeysWith: +) }
    }
}

/// The swift-metrics instruments of one job thread, made once per label and dimensions.
///
/// Each job thread owns one (so no lock is shared between threads on the hot path):
/// `ferry_jobs_total{type,queue,outcome}`, `ferry_job_duration_seconds{type}`,
/// `ferry_queue_latency_seconds{queue}` (enqueue or due time to start).
final class JobMetrics {
    /// Outcomes by type for the dashboard's health table (``TypeHealth``), where housekeeping takes them.
    private let tally: OutcomeTally
    /// Counted here without a lock, handed to `tally` at most every half second (and when idle).
    private var pending: [String: TypeHealth.Counts] = [:]
    private var lastType = ""
    private var lastCounts = TypeHealth.Counts()
    private var nextPublish = ContinuousClock.now

    init(tally: OutcomeTally) {
        self.tally = tally
    }

    /// Counts one job's outcome for the health table.
    func count(_ type: String, succeeded: Int = 0, retried: Int = 0, dead: Int = 0) {
        if type != lastType {
            if !lastType.isEmpty { pending[lastType, default: TypeHealth.Counts()] = pending[lastType, default: TypeHealth.Counts()] + lastCounts }
            lastType = type
            lastCounts = TypeHealth.Counts()
        }
        lastCounts.succeeded += succeeded
        lastCounts.retried += retried
        lastCounts.dead += dead
        let now = ContinuousClock.now
        if now >= nextPublish {
            publish()
            nextPublish = now + .milliseconds(500)
        }
    }

    /// Hands what was counted to the tally housekeeping reads.
    func publish() {
        if !lastType.isEmpty, lastCounts.attempts > 0 {
            pending[lastType, default: TypeHealth.Counts()] = pending[lastType, default: TypeHealth.Counts()] + lastCounts
            lastCounts = TypeHealth.Counts()
        }
        guard !pending.isEmpty else { return }
        tally.putBack(pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// What every job of one type and queue records; the last pair's are kept at hand, so a run of
    /// jobs of one type (the common case) looks nothing up.
    struct Instruments {
        let succeeded: Counter
        let duration: Timer
        let latency: Timer
    }

    private var last: (type: String, queue: String, instruments: Instruments)?
    private var counters: [String: Counter] = [:]
    private var durations: [String: Timer] = [:]
    private var latencies: [String: Timer] = [:]

    func instruments(type: String, queue: String) -> Instruments {
        if let last, last.type == type, last.queue == queue { return last.instruments }
        let made = Instruments(succeeded: outcome(type: type, queue: queue, "succeeded"), duration: duration(type: type), latency: latency(queue: queue))
        last = (type, queue, made)
        return made
    }

    func outcome(type: String, queue: String, _ outcome: String) -> Counter {
        let key = "\(type)\u{0}\(queue)\u{0}\(outcome)"
        if let counter = counters[key] { return counter }
        let counter = Counter(label: "ferry_jobs_total", dimensions: [("type", type), ("queue", queue), ("outcome", outcome)])
        counters[key] = counter
        return counter
    }

    func duration(type: String) -> Timer {
        if let timer = durations[type] { return timer }
        let timer = Timer(label: "ferry_job_duration_seconds", dimensions: [("type", type)], preferredDisplayUnit: .seconds)
        durations[type] = timer
        return timer
    }

    func latency(queue: String) -> Timer {
        if let timer = latencies[queue] { return timer }
        let timer = Timer(label: "ferry_queue_latency_seconds", dimensions: [("queue", queue)], preferredDisplayUnit: .seconds)
        latencies[queue] = timer
        return timer
    }
}
