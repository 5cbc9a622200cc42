import FerryQueue
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /`: totals, attempts and failures per minute over the last hour, health by job type, and
    /// the queues. Reloads itself every 5 s unless `?live=0`.
    struct OverviewController {
        let server: AdminServer

        /// Below this share of successful attempts a job type is marked failing (the applications'
        /// "background job success > 99.5%").
        static let healthyShare = 0.995

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/", use: overview)
        }

        @Sendable func overview(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let live = request.uri.queryParameters["live"] != "0"
            let (counts, health) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis), try TypeHealth(keys: server.dispatcher.keys).summary(on: redis))
            }
            return try DashboardTemplates.page(PageFrame(title: "Overview", current: "/", counts: counts, notice: DashboardNotice.message(for: request), live: live), "overview", OverviewView(counts, health))
        }
    }
}

struct OverviewView {
    struct Total {
        let label: String
        let value: String
    }

    struct HealthRow {
        struct Cells {
            let succeeded: String
            let failed: String
            let rate: String
            let good: Bool

            init(_ counts: TypeHealth.Counts) {
                succeeded = Format.number(counts.succeeded)
                failed = Format.number(counts.retried + counts.dead)
                rate = counts.successRate.map { String(format: "%.2f%%", $0 * 100) } ?? "—"
                good = (counts.successRate ?? 1) >= Dashboard.OverviewController.healthyShare
            }
        }

        let type: String
        let href: String
        let failing: Bool
        let threshold = String(format: "%.1f", Dashboard.OverviewController.healthyShare * 100)
        let hour: Cells
        let day: Cells
    }

    let totals: [Total]
    let chart: ChartView?
    let health: [HealthRow]
    let queues: QueueTableView

    init(_ counts: PageCounts, _ health: TypeHealth.Summary) {
        let queues = counts.stats.queues.values
        totals = [
            ("processed", counts.stats.processed), ("failed attempts", counts.stats.failed), ("ready", queues.reduce(0) { $0 + $1.ready }),
            ("running", counts.workers.reduce(0) { $0 + $1.busy.count }), ("dead", queues.reduce(0) { $0 + $1.dead }), ("worker processes", counts.stats.workers),
        ].map { Total(label: $0, value: Format.number($1)) }
        chart = ChartView(health.minutes)
        self.health = Set(health.lastHour.keys).union(health.lastDay.keys).sorted().map { type in
            let hour = health.lastHour[type] ?? TypeHealth.Counts(), day = health.lastDay[type] ?? TypeHealth.Counts()
            return HealthRow(
                type: type, href: "/dead" + Format.query([("type", type)]),
                failing: [hour.successRate, day.successRate].contains { ($0 ?? 1) < Dashboard.OverviewController.healthyShare },
                hour: .init(hour), day: .init(day)
            )
        }
        self.queues = QueueTableView(counts.stats, actions: false)
    }
}

/// Attempts and failures per minute as an SVG chart with labelled axes; nil under two minutes of data.
struct ChartView {
    struct GridLine {
        let x1: String, x2: String, y: String, labelX: String, labelY: String, label: String
    }

    struct Tick {
        let x: String, y: String, label: String
    }

    let width = 720, height = 210
    let grid: [GridLine]
    let ticks: [Tick]
    let unitX: String
    let attemptPoints: String
    let failurePoints: String
    let attemptsTotal: String
    let failedTotal: String

    init?(_ minutes: [(at: Double, counts: TypeHealth.Counts)]) {
        guard minutes.count >= 2 else { return nil }
        let width = Double(self.width), height = Double(self.height), left = 52.0, bottom = 24.0, top = 20.0, right = 24.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let peakValue = max(5, minutes.map(\.counts.attempts).max() ?? 5)
        // A round top for the axis: 1, 2 or 5 times a power of ten.
        var scale = 1.0
        while scale * 10 <= Double(peakValue) { scale *= 10 }
        let peak = [1.0, 2.0, 5.0, 10.0].map { $0 * scale }.first { $0 >= Double(peakValue) } ?? Double(peakValue)
        func x(_ index: Int) -> Double { left + Double(index) / Double(minutes.count - 1) * plotWidth }
        func y(_ value: Int) -> Double { top + plotHeight - Double(value) / peak * plotHeight }
        // Round steps: a fifth of 1, 5 or 10 × 10ⁿ, a quarter of 2 × 10ⁿ.
        let steps = peak / scale == 2 ? 4 : 5
        grid = (0...steps).map { step in
            let lineY = top + plotHeight - Double(step) / Double(steps) * plotHeight
            return GridLine(x1: "\(left)", x2: "\(width - right)", y: "\(lineY)", labelX: "\(left - 6)", labelY: "\(lineY + 4)",
                            label: Format.number(Int(peak * Double(step) / Double(steps))))
        }
        ticks = stride(from: 60, through: 0, by: -10).map { minutesAgo in
            Tick(x: "\(x(max(0, minutes.count - 1 - minutesAgo)))", y: "\(height - 6)", label: minutesAgo == 0 ? "now" : "−\(minutesAgo) min")
        }
        unitX = "\(left - 6)"
        attemptPoints = minutes.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.counts.attempts)) }.joined(separator: " ")
        failurePoints = minutes.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.counts.retried + $0.element.counts.dead)) }.joined(separator: " ")
        let total = minutes.reduce(TypeHealth.Counts()) { $0 + $1.counts }
        attemptsTotal = Format.number(total.attempts)
        failedTotal = Format.number(total.retried + total.dead)
    }
}
