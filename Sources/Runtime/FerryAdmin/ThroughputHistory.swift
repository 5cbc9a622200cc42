import Foundation
import Synchronization

/// The last hour of throughput, sampled from the processed counters: what the dashboard graphs.
final class ThroughputHistory: Sendable {
    struct Sample: Sendable {
        let at: Date
        let processed: Int
        let failed: Int
    }

    private let samples = Mutex<[Sample]>([])
    let window: TimeInterval = 3600

    func record(processed: Int, failed: Int, at date: Date = Date()) {
        samples.withLock { samples in
            samples.append(Sample(at: date, processed: processed, failed: failed))
            samples.removeAll { date.timeIntervalSince($0.at) > window }
        }
    }

    /// Jobs per minute between consecutive samples, oldest first.
    var ratesPerMinute: [(at: Date, processed: Double, failed: Double)] {
        let all = samples.withLock { $0 }
        return zip(all, all.dropFirst()).compactMap { previous, next in
            let minutes = next.at.timeIntervalSince(previous.at) / 60
            guard minutes > 0 else { return nil }
            return (next.at, Double(max(0, next.processed - previous.processed)) / minutes, Double(max(0, next.failed - previous.failed)) / minutes)
        }
    }
}
