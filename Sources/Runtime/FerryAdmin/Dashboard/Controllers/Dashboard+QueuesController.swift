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
            router.get("/queues/{queue}", use: queue)
            router.get("/queues/{queue}/clear", use: confirmClear)
            router.post("/ui/queues/{queue}/clear", use: clear)
        }

        /// One queue: its figures, its buttons, and links to its lists.
        @Sendable func queue(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let queue = try PathParameters.queue(context)
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            guard counts.stats.queues[queue] != nil else { throw AdminError.notFound("no queue named \(queue): it has never had a job") }
            let filter = Format.query([("queue", queue)])
            let view = QueueView(
                table: QueueTableView(counts.stats, actions: true, only: queue),
                retriesHref: "/retries" + filter, scheduledHref: "/scheduled" + filter, deadHref: "/dead" + filter
            )
            return try DashboardTemplates.page(PageFrame(title: "Queue \(queue)", current: "/queues", counts: counts, notice: DashboardNotice.message(for: request)), "queue", view)
        }

        /// What clearing a queue deletes, and the button that does it.
        @Sendable func confirmClear(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let queue = try PathParameters.queue(context)
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            let stats = counts.stats.queues[queue]
            let waiting = (stats?.ready ?? 0) + (stats?.scheduled ?? 0)
            let view = ClearQueueView(
                queue: queue, waiting: Format.count(waiting, "waiting job"), retries: Format.count(stats?.retries ?? 0, "retry", plural: "retries"),
                button: ButtonView(action: "/ui/queues/\(Format.path(queue))/clear", label: "Delete \(Format.count(waiting, "waiting job"))", danger: true)
            )
            return try DashboardTemplates.page(PageFrame(title: "Clear \(queue)?", current: "/queues", counts: counts, notice: DashboardNotice.message(for: request)), "clearqueue", view)
        }

        @Sendable func clear(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let queue = try PathParameters.queue(context)
            let deleted = try await server.blocking.withRedis { [admin = server.admin] in try admin.queues.clear(queue, on: $0) }
            return Response(status: .seeOther, headers: [.location: "/queues" + Format.query(DashboardNotice.cleared.query(subject: queue, count: deleted))])
        }

        @Sendable func queues(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            return try DashboardTemplates.page(PageFrame(title: "Queues", current: "/queues", counts: counts, notice: DashboardNotice.message(for: request)), "queues",
                                               ["queues": QueueTableView(counts.stats, actions: true)])
        }

        @Sendable func busy(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            return try DashboardTemplates.page(PageFrame(title: "Busy", current: "/busy", counts: counts, notice: DashboardNotice.message(for: request)), "busy",
                                               BusyView(counts.workers, inFlight: counts.stats.queues.values.reduce(0) { $0 + $1.inFlight }))
        }

        @Sendable func pause(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try await act(request, context, .paused) { try $0.paused.pause($1, on: $2) }
        }

        @Sendable func resume(_ request: Request, context: BasicRequestContext) async throws -> Response {
            try await act(request, context, .resumed) { try $0.paused.resume($1, on: $2) }
        }

        private func act(
            _ request: Request, _ context: BasicRequestContext, _ notice: DashboardNotice, _ action: @escaping @Sendable (QueueAdmin, String, RedisConnection) throws -> Void
        ) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let queue = try PathParameters.queue(context)
            try await server.blocking.withRedis { [admin = server.admin] in try action(admin, queue, $0) }
            return Dashboard.back(request, notice: notice.query(subject: queue))
        }
    }
}

/// One queue's page.
struct QueueView {
    let table: QueueTableView
    let retriesHref: String
    let scheduledHref: String
    let deadHref: String
}

/// What clearing a queue would delete.
struct ClearQueueView {
    let queue: String
    let waiting: String
    let retries: String
    let button: ButtonView
}

/// The queues with their figures, and a pause or resume button each where actions are shown.
struct QueueTableView {
    struct Row {
        let name: String
        /// The queue's page: its figures and what can be done with it.
        let href: String
        let paused: Bool
        let ready: String, scheduled: String, inFlight: String, orphaned: String, dead: String
        let latency: String
        let processed: String, failed: String
        let action: ButtonView?
        /// The page that asks before deleting the queue's waiting jobs.
        let clearHref: String?
    }

    let withActions: Bool
    let rows: [Row]

    init(_ stats: FerryQueue.Stats, actions: Bool, only: String? = nil) {
        withActions = actions
        rows = stats.queues.filter { only == nil || $0.key == only }.sorted { $0.key < $1.key }.map { name, queue in
            let verb = queue.paused ? "resume" : "pause"
            return Row(
                name: name, href: "/queues/\(Format.path(name))", paused: queue.paused, ready: Format.number(queue.ready), scheduled: Format.number(queue.scheduled),
                inFlight: Format.number(queue.inFlight), orphaned: Format.number(queue.orphaned), dead: Format.number(queue.dead),
                latency: String(format: "%.3f s", queue.latencyS), processed: Format.number(queue.processed), failed: Format.number(queue.failed),
                action: actions ? ButtonView(action: "/ui/queues/\(Format.path(name))/\(verb)", label: verb.capitalized) : nil,
                clearHref: actions && queue.ready + queue.scheduled > 0 ? "/queues/\(Format.path(name))/clear" : nil
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
    /// Why the queues count more jobs in flight than run here: the rest are fetched ahead.
    let fetchedAhead: String?

    init(_ workers: [WorkerInfo], inFlight: Int, now: Double = Date().timeIntervalSince1970) {
        running = workers.flatMap { worker in
            worker.busy.map { job in
                Running(id: job.id, href: Format.jobHref(job.id), type: job.type, queue: job.queue, worker: "\(worker.host) · \(worker.pid)",
                        runningFor: Format.seconds(now - job.startedAt), progress: job.progress.map(ProgressView.init))
            }
        }
        let runningCount = running.count
        fetchedAhead = inFlight > runningCount
            ? "\(Format.count(inFlight, "job")) in flight in the queues: \(Format.number(runningCount)) running (as of the workers' last heartbeat, every few seconds), the rest fetched by a worker and waiting for one of its threads (prefetch) or about to be acknowledged."
            : nil
        processes = workers.map { worker in
            Process(host: worker.host, quiet: worker.quiet, pid: "\(worker.pid)", queueNames: worker.queues.joined(separator: ", "),
                    busy: "\(worker.busy.count) of \(worker.concurrency)", started: TimeView(worker.startedAt))
        }
    }
}
