import FerryQueue
import FerrySupport
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /batches`: the last week's batches, newest first, with their progress.
    struct BatchesController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/batches", use: batches)
            router.get("/batches/{id}", use: batch)
        }

        /// One batch: its progress and the callbacks it enqueued.
        @Sendable func batch(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let id = try PathParameters.jobID(context)
            let (counts, status) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis), try Batches(dispatcher: server.dispatcher).status(id: id, on: redis))
            }
            guard let status else { throw AdminError.notFound("no batch \(id); a batch is kept for a week after it completes") }
            return try DashboardTemplates.page(PageFrame(title: "Batch \(id)", current: "/batches", counts: counts, notice: DashboardNotice.message(for: request)),
                                               "batch", BatchView(status))
        }

        @Sendable func batches(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let query = try ListQuery(request)
            let (counts, found) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis),
                 try Batches(dispatcher: server.dispatcher).page(offset: (query.page - 1) * query.perPage, limit: query.perPage, on: redis))
            }
            let view = BatchesView(found.batches, pager: PagerView(base: "/batches", filters: [], page: query.page, perPage: query.perPage, total: found.total))
            return try DashboardTemplates.page(PageFrame(title: "Batches", current: "/batches", counts: counts, notice: DashboardNotice.message(for: request)), "batches", view)
        }
    }
}

/// One batch's page.
struct BatchView {
    let description: String
    let queue: String
    let queueHref: String
    let deadHref: String
    let created: TimeView
    let done: String, total: String, pending: String, failed: String, dead: String
    let anyDead: Bool
    let completed: TimeView?
    let state: String
    /// The callbacks enqueued when it completed: `on_complete`, `on_success`.
    let callbacks: [String]

    init(_ batch: BatchStatus) {
        description = batch.description.isEmpty ? "—" : batch.description
        queue = batch.queue
        queueHref = "/queues/\(Format.path(batch.queue))"
        deadHref = "/dead" + Format.query([("queue", batch.queue)])
        created = TimeView(batch.createdAt)
        done = Format.number(batch.succeeded.addingSaturating(batch.dead))
        total = Format.number(batch.total)
        pending = Format.number(batch.pending)
        failed = Format.number(batch.failed)
        dead = Format.number(batch.dead)
        anyDead = batch.dead > 0
        completed = batch.completedAt.map { TimeView($0) }
        state = batch.sealed ? "running" : "being enqueued"
        callbacks = batch.callbacksEnqueued
    }
}

struct BatchesView {
    struct Row {
        let id: String
        let href: String
        let description: String
        let queue: String
        let done: String, total: String, pending: String, failed: String, dead: String
        let anyDead: Bool
        /// When it completed, and the callbacks that were enqueued then.
        let completed: TimeView?
        let callbacks: String?
        /// Its state while not complete.
        let state: String
    }

    let batches: [Row]
    let pager: PagerView

    init(_ batches: [BatchStatus], pager: PagerView) {
        self.batches = batches.map { batch in
            Row(
                id: batch.id, href: "/batches/\(Format.path(batch.id))", description: batch.description, queue: batch.queue,
                done: Format.number(batch.succeeded.addingSaturating(batch.dead)), total: Format.number(batch.total),
                pending: Format.number(batch.pending), failed: Format.number(batch.failed), dead: Format.number(batch.dead), anyDead: batch.dead > 0,
                completed: batch.completedAt.map { TimeView($0) },
                callbacks: batch.callbacksEnqueued.isEmpty ? nil : batch.callbacksEnqueued.joined(separator: ", "),
                state: batch.sealed ? "running" : "being enqueued"
            )
        }
        self.pager = pager
    }
}
