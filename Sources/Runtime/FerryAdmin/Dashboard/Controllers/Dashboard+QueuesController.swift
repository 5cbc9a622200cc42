import FerryQueue
import FerryRedis
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /queues` (with pause and resume buttons) and `GET /busy` (running jobs and worker processes).
    struct QueuesController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/queues", use: queues)
            router.get("/busy", use: busy)
            router.post("/ui/queues/{queue}/pause", use: pause)
            router.post("/ui/queues/{queue}/resume", use: resume)
        }

        @Sendable func queues(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            return try DashboardTemplates.page(PageFrame(title: "Queues", current: "/queues", counts: counts), "queues",
                                               ["queues": QueueTableView(counts.stats, actions: true)])
        }

        @Sendable func busy(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            return try DashboardTemplates.page(PageFrame(title: "Busy", current: "/busy", counts: counts), "busy", BusyView(counts.workers))
        }

        @Sendable func pause(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try await act(request, context) { try $0.paused.pause($1, on: $2) }
        }

        @Sendable func resume(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try await act(request, context) { try $0.paused.resume($1, on: $2) }
        }

        private func act(_ request: Request, _ context: BasicRequestContext, _ action: @escaping @Sendable (QueueAdmin, String, RedisConnection) throws -> Void) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let queue = try PathParameters.queue(context)
            try await server.blocking.withRedis { [admin = server.admin] in try action(admin, queue, $0) }
            return Dashboard.back(request)
        }
    }
}

/// The queues with their figures, and a pause or resume button each where actions are shown.
struct QueueTableView {
    struct Row {
        let name: String
        let paused: Bool
        let ready: String, scheduled: String, inFlight: String, orphaned: String, dead: String
        let latency: String
        let processed: String, failed: String
        let action: ButtonView?
    }

    let withActions: Bool
    let rows: [Row]

    init(_ stats: FerryQueue.Stats, actions: Bool) {
        withActions = actions
        rows = stats.queues.sorted { $0.key < $1.key }.map { name, queue in
            let verb = queue.paused ? "resume" : "pause"
            return Row(
                name: name, paused: queue.paused, ready: Format.number(queue.ready), scheduled: Format.number(queue.scheduled),
                inFlight: Format.number(queue.inFlight), orphaned: Format.number(queue.orphaned), dead: Format.number(queue.dead),
                latency: String(format: "%.3f s", queue.latencyS), processed: Format.number(queue.processed), failed: Format.number(queue.failed),
                action: actions ? ButtonView(action: "/ui/queues/\(Format.path(name))/\(verb)", label: verb.capitalized) : nil
            )
        }
    }
}

struct BusyView {
    struct Running {
        let id: String
        let href: String
        let type: String
        let queue: String
        let worker: String
        let runningFor: String
        let progress: ProgressView?
    }

    struct Process {
        let host: String
        let quiet: Bool
        let pid: String
        let queueNames: String
        let busy: String
        let started: TimeView
    }

    let running: [Running]
    let processes: [Process]

    init(_ workers: [WorkerInfo], now: Double = Date().timeIntervalSince1970) {
        running = workers.flatMap { worker in
            worker.busy.map { job in
                Running(id: job.id, href: Format.jobHref(job.id), type: job.type, queue: job.queue, worker: "\(worker.host) · \(worker.pid)",
                        runningFor: Format.seconds(now - job.startedAt), progress: job.progress.map(ProgressView.init))
            }
        }
        processes = workers.map { worker in
            Process(host: worker.host, quiet: worker.quiet, pid: "\(worker.pid)", queueNames: worker.queues.joined(separator: ", "),
                    busy: "\(worker.busy.count) of \(worker.concurrency)", started: TimeView(worker.startedAt))
        }
    }
}
