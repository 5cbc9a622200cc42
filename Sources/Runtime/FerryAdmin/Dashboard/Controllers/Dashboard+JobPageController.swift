import FerryQueue
import FerryRedis
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /jobs/{id}`: where a job is, its attempts' failures, its arguments and result, the
    /// command that enqueues a copy, and the buttons for what can be done with it where it is.
    /// The buttons post to `/ui/dead/{id}/retry|delete` and `/ui/scheduled/{id}/run|delete`.
    struct JobPageController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/jobs/{id}", use: job)
            router.get("/find", use: find)
            // Each button: the action, what to say after it, and where a job page's browser goes
            // when the job is no longer there.
            let actions: [(String, DashboardNotice, String?, @Sendable (QueueAdmin, String, RedisConnection) throws -> Bool)] = [
                ("/ui/dead/{id}/retry", .retried, nil, { try $0.dead.retry(id: $1, on: $2) }),
                ("/ui/dead/{id}/delete", .deleted, "/dead", { try $0.dead.delete(id: $1, on: $2) }),
                ("/ui/scheduled/{id}/run", .ranNow, nil, { try $0.scheduled.run(id: $1, on: $2) }),
                ("/ui/scheduled/{id}/kill", .killed, nil, { try $0.scheduled.kill(id: $1, on: $2) }),
                ("/ui/scheduled/{id}/delete", .deleted, "/scheduled", { try $0.scheduled.delete(id: $1, on: $2) }),
            ]
            for (path, notice, gone, action) in actions {
                router.post(RouterPath(path)) { request, context in try await act(request, context, notice, jobGoneTo: gone, action) }
            }
        }

        /// The header's search: to the page of the job with that id.
        @Sendable func find(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let id = (request.uri.queryParameters["id"].map(String.init) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !id.isEmpty else { return Response(status: .seeOther, headers: [.location: "/"]) }
            guard id.unicodeScalars.count <= 200 else { throw AdminError.badRequest("a job id has 1 to 200 characters") }
            return Response(status: .seeOther, headers: [.location: Format.jobHref(id)])
        }

        @Sendable func job(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let id = try PathParameters.jobID(context)
            let (counts, state) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis), try JobState.find(id: id, admin: server.admin, on: redis))
            }
            guard let state else {
                throw AdminError.notFound("no job \(id) is queued, running, scheduled or dead, and none finished with a record within its result_ttl")
            }
            return try DashboardTemplates.page(PageFrame(title: "Job \(id)", current: "", counts: counts, notice: DashboardNotice.message(for: request)), "job", JobPageView(id: id, state: state))
        }

        private func act(
            _ request: Request, _ context: BasicRequestContext, _ notice: DashboardNotice, jobGoneTo list: String?,
            _ action: @escaping @Sendable (QueueAdmin, String, RedisConnection) throws -> Bool
        ) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let id = try PathParameters.jobID(context)
            guard try await server.blocking.withRedis({ [admin = server.admin] in try action(admin, id, $0) }) else {
                throw AdminError.notFound("no such job \(id) any more; it may have run, been retried or deleted meanwhile")
            }
            return Dashboard.back(request, notice: notice.query(subject: id), jobGoneTo: list)
        }
    }
}

struct JobPageView {
    /// One line of the job's description: a text, a time or a progress bar.
    struct Fact {
        let label: String
        var value: String? = nil
        var time: TimeView? = nil
        var progress: ProgressView? = nil
    }

    struct Failure {
        let attempt: String
        let at: TimeView
        let errorType: String
        let message: String
    }

    let stateName: String
    let worker: String?
    let facts: [Fact]
    let buttons: [ButtonView]
    let failures: [Failure]
    let arguments: JSONNode?
    let command: String?
    let payload: String?
    let result: JSONNode?

    init(id: String, state: JobState) {
        stateName = state.state
        worker = state.worker
        let job = state.job
        var facts = [Fact(label: "type", value: job?.type ?? state.type ?? "—"), Fact(label: "queue", value: job?.queue ?? state.queue ?? "—")]
        if let job {
            if let origin = job.origin?.object, origin["protocol"] == "celery", let task = origin["task"]?.string {
                facts.append(Fact(label: "sent by", value: "Celery, as task \(task)"))
            }
            facts.append(Fact(label: "attempt", value: "\(job.attempt ?? 0) of \(job.maxAttempts ?? 0)"))
            facts.append(Fact(label: "created", time: TimeView(job.createdAt)))
            facts.append(Fact(label: "enqueued", time: TimeView(job.enqueuedAt)))
            if let runAt = job.runAt { facts.append(Fact(label: state.state == "retry" ? "next attempt" : "runs at", time: TimeView(runAt))) }
            if let error = job.error { facts.append(Fact(label: "failed", time: TimeView(error.at))) }
            if let died = job.diedAt { facts.append(Fact(label: "died", time: TimeView(died))) }
            if let expires = job.expiresAt { facts.append(Fact(label: "expires", time: TimeView(expires))) }
        }
        if let finished = state.finishedAt { facts.append(Fact(label: "finished", time: TimeView(finished))) }
        if let progress = state.progress { facts.append(Fact(label: "progress", progress: ProgressView(progress))) }
        self.facts = facts

        buttons = switch state.state {
        case "dead": [.retry(id), .deleteDead(id)]
        case "retry": [.runNow(id), .kill(id), .deleteScheduled(id)]
        case "scheduled": [.runNow(id), .deleteScheduled(id)]
        default: []
        }

        let failures = (job?.failures ?? []) + [job?.error ?? state.error].compactMap { $0 }
        // Numbered from the last attempt back: the oldest may have been dropped (at most 20 are kept).
        // The attempt number comes from the job's JSON: kept in range before any arithmetic.
        let attempt = min(max(job?.attempt ?? 0, failures.count), 1 << 40)
        let last = attempt - (state.state == "retry" && attempt > failures.count ? 1 : 0)
        self.failures = failures.enumerated().reversed().map { index, failure in
            Failure(attempt: "\(last - (failures.count - 1 - index))", at: TimeView(failure.at), errorType: failure.type, message: failure.message)
        }

        if let args = job?.args ?? state.args, let type = job?.type ?? state.type {
            arguments = JSONNode(args)
            command = "ferry enqueue \(Self.shellQuote(type)) --args \(Self.shellQuote(JSONNode.compact(args))) --queue \(Self.shellQuote(job?.queue ?? state.queue ?? "default"))"
            payload = nil
        } else {
            arguments = nil
            command = nil
            payload = job?.raw.map { String($0.prefix(20_000)) }
        }
        result = state.result.map { JSONNode($0) }
    }

    static func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
