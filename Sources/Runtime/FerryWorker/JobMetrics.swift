import Metrics

/// The swift-metrics instruments of one executor thread, made once per label and dimensions.
///
/// Each executor owns one (so no lock is shared between threads on the hot path):
/// `ferry_jobs_total{type,queue,outcome}`, `ferry_job_duration_seconds{type}`,
/// `ferry_queue_latency_seconds{queue}` (enqueue or due time to start).
final class JobMetrics {
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
