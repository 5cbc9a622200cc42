import FerryScheduler
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /schedules`: the scheduler's entries and when each fires next.
    struct SchedulesController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/schedules", use: schedules)
        }

        @Sendable func schedules(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            return try DashboardTemplates.page(PageFrame(title: "Schedules", current: "/schedules", counts: counts), "schedules", SchedulesView(server.schedules))
        }
    }
}

struct SchedulesView {
    struct Entry {
        let name: String
        let disabled: Bool
        let cron: String
        let zone: String
        let jobType: String
        let next: TimeView
    }

    let entries: [Entry]

    init(_ entries: [ScheduleEntry], now: Date = Date()) {
        self.entries = entries.map { entry in
            Entry(name: entry.name, disabled: !entry.enabled, cron: entry.schedule.expression.source, zone: entry.timeZoneName,
                  jobType: entry.jobType, next: TimeView(entry.schedule.next(after: now)?.timeIntervalSince1970))
        }
    }
}
