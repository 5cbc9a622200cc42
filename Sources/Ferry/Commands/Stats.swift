import ArgumentParser
import FerryQueue
import FerryRedis
import Foundation

/// `ferry stats`: queue sizes, latency, totals, live workers.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show queue sizes, latency and totals.")

    @Flag(help: "Print JSON: {\"queues\": {name: {ready, scheduled, retries, in_flight, orphaned, dead, trimmed, latency_s, …}}, \"processed\", \"failed\", \"workers\"}.")
    var json = false

    func run() throws {
        let environment = FerryEnvironment()
        let redis = try RedisConnection(configuration: try environment.redisConfiguration())
        let stats = try QueueAdmin(keys: environment.keys).queues.stats(on: redis)
        let limiters = try RateLimits(keys: environment.keys).status(on: redis)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(Output(stats: stats, rateLimits: limiters)), as: UTF8.self))
            return
        }
        let header = ["queue", "ready", "scheduled", "retries", "in flight", "orphaned", "dead", "trimmed", "latency", "processed", "failed"]
        var rows = [header]
        for (name, queue) in stats.queues.sorted(by: { $0.key < $1.key }) {
            rows.append([
                name + (queue.paused ? " (paused)" : ""), "\(queue.ready)", "\(queue.scheduled)", "\(queue.retries)", "\(queue.inFlight)", "\(queue.orphaned)", "\(queue.dead)", "\(queue.trimmed)",
                String(format: "%.3fs", queue.latencyS), "\(queue.processed)", "\(queue.failed)",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).enumerated().map { index, cell in
                index == 0 ? cell.0.padding(toLength: cell.1, withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: cell.1 - cell.0.count) + cell.0
            }.joined(separator: "  "))
        }
        print("processed \(stats.processed), failed \(stats.failed), live worker processes \(stats.workers)")
        // Running jobs that report progress (imports, rollups), as of their workers' last heartbeats.
        for job in try WorkerRegistry(keys: environment.keys).liveWorkers(on: redis).flatMap(\.busy) {
            guard let progress = job.progress else { continue }
            let share = progress.total.flatMap { total in progress.percent.map { " of \(total) (\($0)%)" } } ?? ""
            print("running \(job.type) \(job.id): \(progress.done)\(share)\(progress.message.map { ", \($0)" } ?? "")")
        }
        for limiter in limiters {
            print("rate limit \(limiter.type): \(limiter.limit); \(limiter.waiting) waiting")
            for budget in limiter.budgets {
                let held = budget.heldUntil.map { String(format: ", held for %.1fs", max(0, $0 - Date().timeIntervalSince1970)) } ?? ""
                print("  \(budget.key): \(budget.available) free now, \(budget.waiting) waiting\(held)")
            }
        }
    }

    /// `--json`: the stats with the rate limiters beside them.
    struct Output: Encodable {
        let stats: FerryQueue.Stats
        let rateLimits: [RateLimiterStatus]
        enum CodingKeys: String, CodingKey { case rateLimits = "rate_limits" }
        func encode(to encoder: any Encoder) throws {
            try stats.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rateLimits, forKey: .rateLimits)
        }
    }
}
