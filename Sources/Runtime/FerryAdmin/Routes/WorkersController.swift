import FerryQueue
import FerryRedis
import FerryScheduler
import Foundation
import Hummingbird

/// `GET workers`, `GET schedules` and `POST schedules/{name}/run`.
struct WorkersController {
    let server: AdminServer

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("workers", use: workers)
        api.get("schedules", use: schedules)
        api.post("schedules/{name}/run", use: runSchedule)
    }

    @Sendable func workers(_ request: Request, context: BasicRequestContext) async throws -> Response {
        struct Busy: Encodable {
            let id: String, type: String, queue: String, startedAt: Double, runningS: Double, progress: WorkerInfo.BusyJob.Progress?
            enum CodingKeys: String, CodingKey { case id, type, queue, progress, startedAt = "started_at", runningS = "running_s" }
        }
        struct Worker: Encodable {
            let id: String, host: String, pid: Int, queues: [String], concurrency: Int, startedAt: Double, quiet: Bool, busy: [Busy]
            enum CodingKeys: String, CodingKey { case id, host, pid, queues, concurrency, quiet, busy, startedAt = "started_at" }
        }
        let workers = try await server.blocking.withRedis { [keys = server.dispatcher.keys] in try WorkerRegistry(keys: keys).liveWorkers(on: $0) }
        let now = Date().timeIntervalSince1970
        return try JSONResponse.make(["workers": workers.map { worker in
            Worker(id: worker.id, host: worker.host, pid: worker.pid, queues: worker.queues, concurrency: worker.concurrency,
                   startedAt: worker.startedAt, quiet: worker.quiet,
                   busy: worker.busy.map { Busy(id: $0.id, type: $0.type, queue: $0.queue, startedAt: $0.startedAt, runningS: max(0, now - $0.startedAt), progress: $0.progress) })
        }])
    }

    @Sendable func schedules(_ request: Request, context: BasicRequestContext) async throws -> Response {
        struct Entry: Encodable {
            let name: String, cron: String, timezone: String, job: String, queue: String, enabled: Bool, missed: String
            let nextFire: Double?, lastFire: Double?
            enum CodingKeys: String, CodingKey {
                case name, cron, timezone, job, queue, enabled, missed
                case nextFire = "next_fire", lastFire = "last_fire"
            }
        }
        let dispatcher = server.dispatcher
        let entries = server.schedules
        let now = Date()
        let views = try await server.blocking.run {
            try entries.map { entry in
                let queue = entry.queue ?? dispatcher.defaultQueue(for: entry.jobType)
                return Entry(
                    name: entry.name, cron: entry.schedule.expression.source, timezone: entry.timeZoneName, job: entry.jobType,
                    queue: queue, enabled: entry.enabled, missed: entry.missed.rawValue,
                    nextFire: entry.schedule.next(after: now)?.timeIntervalSince1970,
                    lastFire: try dispatcher.lastTick(entry: entry.name, queue: queue)?.timeIntervalSince1970
                )
            }
        }
        return try JSONResponse.make(["schedules": views])
    }

    /// Enqueues a schedule entry's job now, as its next tick would.
    @Sendable func runSchedule(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard let name = context.parameters.get("name"), let entry = server.schedules.first(where: { $0.name == name }) else {
            throw AdminError.notFound("no schedule entry named \(context.parameters.get("name") ?? "")")
        }
        let dispatcher = server.dispatcher
        let request = Dispatcher.JobRequest(type: entry.jobType, args: entry.args, options: EnqueueOptions(queue: entry.queue))
        let id: String
        do throws(QueueError) {
            id = try await dispatcher.enqueue(request)
        } catch {
            throw BlockingError(message: error.description)
        }
        return try JSONResponse.make(["id": id, "schedule": name], status: .created)
    }
}
