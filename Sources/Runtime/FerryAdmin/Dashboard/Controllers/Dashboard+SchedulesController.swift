import FerryQueue
import FerryScheduler
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /schedules`: the scheduler's entries, when each fired last and fires next, and a
    /// button that runs one now (`POST /ui/schedules/{name}/run`, as its next tick would).
    struct SchedulesController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/schedules", use: schedules)
            router.post("/ui/schedules/{name}/run", use: run)
        }

        @Sendable func schedules(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            let lastFires = try await server.blocking.run { [server] in
                try server.schedules.map { entry in
                    try server.dispatcher.lastTick(entry: entry.name, queue: entry.queue ?? server.dispatcher.defaultQueue(for: entry.jobType))
                }
            }
            return try DashboardTemplates.page(PageFrame(title: "Schedules", current: "/schedules", counts: counts, notice: DashboardNotice.message(for: request)), "schedules",
                                               SchedulesView(server.schedules, lastFires: lastFires))
        }

        @Sendable func run(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let name = context.parameters.get("name").map { $0.removingPercentEncoding ?? $0 } ?? ""
            guard let entry = server.schedules.first(where: { $0.name == name }) else {
                throw AdminError.notFound("no schedule entry named \(name.prefix(100))")
            }
            let id: String
            do throws(QueueError) {
                id = try await server.dispatcher.enqueue(Dispatcher.JobRequest(type: entry.jobType, args: entry.args, options: EnqueueOptions(queue: entry.queue)))
            } catch {
                throw BlockingError(message: error.description)
            }
            return Dashboard.back(request, notice: DashboardNotice.scheduleRan.query(subject: id))
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
        let last: TimeView
        let next: TimeView
        let run: ButtonView
    }

    let entries: [Entry]

    init(_ entries: [ScheduleEntry], lastFires: [Date?], now: Date = Date()) {
        self.entries = zip(entries, lastFires).map { entry, last in
            Entry(name: entry.name, disabled: !entry.enabled, cron: entry.schedule.expression.source, zone: entry.timeZoneName,
                  jobType: entry.jobType, last: TimeView(last?.timeIntervalSince1970), next: TimeView(entry.schedule.next(after: now)?.timeIntervalSince1970),
                  run: ButtonView(action: "/ui/schedules/\(Format.path(entry.name))/run", label: "Run now"))
        }
    }
}
