import FerryQueue
import FerryRedis
import FerryScheduler
import Foundation
import Hummingbird

/// The dashboard at `/`: one server-rendered page, small inline CSS, no script — it reads the same
/// with JavaScript off. Buttons are forms posting to `/ui/…`, which act and redirect back.
struct Dashboard {
    let server: AdminServer

    func register(on router: Router<BasicRequestContext>) {
        let admin = server.admin
        let keys = server.dispatcher.keys

        router.get("/") { _, _ in
            let snapshot = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try admin.dead.jobs(limit: 50, on: redis), try admin.scheduled.jobs(limit: 200, on: redis),
                 try WorkerRegistry(keys: keys).liveWorkers(on: redis), try RateLimits(keys: keys).status(on: redis),
                 try Batches(dispatcher: server.dispatcher).recent(limit: 20, on: redis))
            }
            server.history.record(processed: snapshot.0.processed, failed: snapshot.0.failed)
            var records: [RecordsTable] = []
            for resource in server.resources {
                records.append(await Self.newest(of: resource, blocking: server.blocking))
            }
            let page = render(
                stats: snapshot.0, dead: snapshot.1, waiting: snapshot.2, workers: snapshot.3, limits: snapshot.4, batches: snapshot.5, records: records
            )
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
        }

        // Each button: a form post that acts, then sends the browser back to the page.
        let jobActions: [(String, @Sendable (String, RedisConnection) throws -> Bool)] = [
            ("ui/dead/{id}/retry", { try admin.dead.retry(id: $0, on: $1) }),
            ("ui/dead/{id}/delete", { try admin.dead.delete(id: $0, on: $1) }),
            ("ui/scheduled/{id}/run", { try admin.scheduled.run(id: $0, on: $1) }),
            ("ui/scheduled/{id}/delete", { try admin.scheduled.delete(id: $0, on: $1) }),
        ]
        for (path, action) in jobActions {
            router.post(RouterPath(path)) { request, context in
                try Self.refuseCrossSite(request)
                let id = try JobRoutes.id(context)
                guard try await server.blocking.withRedis({ try action(id, $0) }) else {
                    throw AdminError.notFound("no such job \(id) any more; it may have run, been retried or deleted meanwhile")
                }
                return Self.back()
            }
        }
        let queueActions: [(String, @Sendable (String, RedisConnection) throws -> Void)] = [
            ("ui/queues/{queue}/pause", { try admin.paused.pause($0, on: $1) }),
            ("ui/queues/{queue}/resume", { try admin.paused.resume($0, on: $1) }),
        ]
        for (path, action) in queueActions {
            router.post(RouterPath(path)) { request, context in
                try Self.refuseCrossSite(request)
                let queue = try QueueRoutes.queueName(context)
                try await server.blocking.withRedis { try action(queue, $0) }
                return Self.back()
            }
        }
    }

    /// The buttons act without a token on loopback, so another site's page must not be able to
    /// press them (CSRF): a cross-site form post is refused.
    static func refuseCrossSite(_ request: Request) throws {
        if request.headers.contains(where: { $0.name.canonicalName == "sec-fetch-site" && $0.value == "cross-site" }) { throw forbidden }
        if let origin = request.headers[.origin], origin != "null" {
            let host = request.head.authority ?? ""
            guard let originHost = URLComponents(string: origin).map({ ($0.host ?? "") + ($0.port.map { ":\($0)" } ?? "") }), originHost == host else {
                throw forbidden
            }
        }
    }

    static let forbidden = AdminError(status: .forbidden, code: "cross_site", message: "dashboard actions must come from the dashboard itself")

    static func back() -> Response {
        Response(status: .seeOther, headers: [.location: "/"])
    }

    // MARK: Rendering

    /// The newest records of an ``AdminResource`` (imports, Claude usage…), or why there are none.
    struct RecordsTable {
        var name: String
        var rows: Result<[JSONValue], AdminResource.Failure>
    }

    static func newest(of resource: AdminResource, blocking: Blocking) async -> RecordsTable {
        do {
            let rows = try await blocking.run { () throws -> [JSONValue] in
                let items = try resource.list(AdminResource.Query(limit: 10, parameters: [:]))
                let data = try ResourceRoutes.encoder.encode(ResourceRoutes.AnyEncodable(items))
                return try JSONDecoder().decode(JSONValue.self, from: data).elements ?? []
            }
            return RecordsTable(name: resource.name, rows: .success(rows))
        } catch let failure as AdminResource.Failure {
            return RecordsTable(name: resource.name, rows: .failure(failure))
        } catch {
            return RecordsTable(name: resource.name, rows: .failure(.unavailable("could not be read; see the admin server's log")))
        }
    }

    /// Names that identify a record come first; the others follow in alphabetical order.
    static func columnRank(_ name: String) -> Int {
        ["id", "key", "status", "source", "ref", "model", "profile", "user_id", "calls", "accepted", "cost_usd"].firstIndex(of: name) ?? 100
    }

    /// A table per resource: the scalar fields of its newest records (at most 10 columns).
    static func renderRecords(_ tables: [RecordsTable]) -> String {
        var html = ""
        for table in tables {
            html += "<h2 id=\"\(escape(table.name.replacingOccurrences(of: "/", with: "-")))\">\(escape(table.name))</h2>"
            switch table.rows {
            case .failure(.unavailable(let message)), .failure(.badRequest(let message)):
                html += "<p class=\"muted\">\(escape(message))</p>"
            case .success(let rows) where rows.isEmpty:
                html += "<p class=\"muted\">None yet.</p>"
            case .success(let rows):
                let columns = (rows.first?.object ?? [:]).filter { field in
                    switch field.value {
                    case .object, .array: return false
                    default: return true
                    }
                }.keys.sorted { (Self.columnRank($0), $0) < (Self.columnRank($1), $1) }.prefix(10)
                html += "<table><tr>" + columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
                for row in rows {
                    html += "<tr class=\"record\">" + columns.map { column -> String in
                        switch row[column] {
                        case .int(let number)?: return "<td class=\"n\">\(number.formatted())</td>"
                        case .double(let number)?: return "<td class=\"n\">\(number.formatted())</td>"
                        case .string(let text)?: return "<td>\(escape(String(text.prefix(120))))</td>"
                        case .bool(let flag)?: return "<td>\(flag)</td>"
                        default: return "<td class=\"muted\">—</td>"
                        }
                    }.joined() + "</tr>"
                }
                html += "</table>"
            }
        }
        return html
    }

    func render(
        stats: FerryQueue.Stats, dead: [DeadJob], waiting: [ScheduledJob], workers: [WorkerInfo],
        limits: [RateLimiterStatus] = [], batches: [BatchStatus] = [], records: [RecordsTable] = []
    ) -> String {
        let now = Date()
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ferry</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#fafbfc}
            h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
            table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
            th{background:#f0f2f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
            .totals span{display:inline-block;margin-right:1.5rem}.err{color:#a0281e}.muted{color:#6b7280}
            form{display:inline}button{font:inherit;padding:.15rem .6rem;border:1px solid #c5cad3;border-radius:4px;background:#fff;cursor:pointer}
            button:hover{background:#eef1f5}svg{background:#fff;border:1px solid #e3e6ea}
            </style></head><body>
            <h1>Ferry</h1>
            <p class="totals"><span>processed <b>\(stats.processed)</b></span><span>failed <b>\(stats.failed)</b></span>\
            <span>worker processes <b>\(stats.workers)</b></span><span class="muted">\(Self.escape(now.formatted(.iso8601)))</span></p>
            """
        html += throughputGraph()

        html += "<h2>Queues</h2><table><tr><th>queue</th><th>ready</th><th>scheduled</th><th>in flight</th><th>orphaned</th><th>dead</th><th>latency</th><th>processed</th><th>failed</th><th></th></tr>"
        for (name, queue) in stats.queues.sorted(by: { $0.key < $1.key }) {
            let action = queue.paused ? "resume" : "pause"
            html += "<tr><td>\(Self.escape(name))\(queue.paused ? " <span class=\"muted\">(paused)</span>" : "")</td>"
                + "<td class=\"n\">\(queue.ready)</td><td class=\"n\">\(queue.scheduled)</td><td class=\"n\">\(queue.inFlight)</td>"
                + "<td class=\"n\">\(queue.orphaned)</td>"
                + "<td class=\"n\">\(queue.dead)</td><td class=\"n\">\(String(format: "%.3f s", queue.latencyS))</td>"
                + "<td class=\"n\">\(queue.processed)</td><td class=\"n\">\(queue.failed)</td>"
                + "<td>\(Self.button("/ui/queues/\(Self.path(name))/\(action)", action))</td></tr>"
        }
        html += "</table>"

        html += "<h2 id=\"dead\">Dead jobs</h2>"
        if dead.isEmpty { html += "<p class=\"muted\">No dead jobs.</p>" } else {
            html += "<table><tr><th>job</th><th>type</th><th>queue</th><th>error</th><th>died</th><th></th></tr>"
            for job in dead {
                html += "<tr class=\"dead-job\"><td>\(Self.escape(job.id))</td><td>\(Self.escape(job.job?.type ?? "(unparsable)"))</td>"
                    + "<td>\(Self.escape(job.queue))</td><td class=\"err\">\(Self.escape(job.error.type)): \(Self.escape(String(job.error.message.prefix(300))))</td>"
                    + "<td>\(Self.escape(Date(timeIntervalSince1970: job.diedAt).formatted(.iso8601)))</td>"
                    + "<td>\(Self.button("/ui/dead/\(Self.path(job.id))/retry", "Retry")) \(Self.button("/ui/dead/\(Self.path(job.id))/delete", "Delete"))</td></tr>"
            }
            html += "</table>"
        }

        for (title, retries) in [("Retries", true), ("Scheduled", false)] {
            let jobs = waiting.filter { $0.isRetry == retries }
            html += "<h2>\(title)</h2>"
            if jobs.isEmpty { html += "<p class=\"muted\">None.</p>"; continue }
            html += "<table><tr><th>job</th><th>type</th><th>queue</th><th>runs at</th>\(retries ? "<th>attempt</th><th>last error</th>" : "")<th></th></tr>"
            for job in jobs.prefix(50) {
                html += "<tr><td>\(Self.escape(job.job.id))</td><td>\(Self.escape(job.job.type))</td><td>\(Self.escape(job.job.queue))</td>"
                    + "<td>\(Self.escape(Date(timeIntervalSince1970: job.runAt).formatted(.iso8601)))</td>"
                if retries {
                    html += "<td class=\"n\">\(job.job.attempt) of \(job.job.maxAttempts)</td>"
                        + "<td class=\"err\">\(Self.escape(String((job.job.error?.message ?? "").prefix(300))))</td>"
                }
                html += "<td>\(Self.button("/ui/scheduled/\(Self.path(job.job.id))/run", "Run now")) \(Self.button("/ui/scheduled/\(Self.path(job.job.id))/delete", "Delete"))</td></tr>"
            }
            html += "</table>"
        }

        html += "<h2 id=\"batches\">Batches</h2>"
        if batches.isEmpty { html += "<p class=\"muted\">No batches in the last week.</p>" } else {
            html += "<table><tr><th>batch</th><th>description</th><th>queue</th><th>done</th><th>pending</th><th>failed attempts</th><th>dead</th><th>state</th></tr>"
            for batch in batches {
                let state = batch.completedAt.map { "complete " + Date(timeIntervalSince1970: $0).formatted(.iso8601) + (batch.callbacksEnqueued.isEmpty ? "" : "; " + batch.callbacksEnqueued.joined(separator: ", ") + " enqueued") }
                    ?? (batch.sealed ? "running" : "being enqueued")
                html += "<tr class=\"batch\"><td>\(Self.escape(batch.id))</td><td>\(Self.escape(batch.description))</td><td>\(Self.escape(batch.queue))</td>"
                    + "<td class=\"n\">\(batch.succeeded + batch.dead) of \(batch.total)</td><td class=\"n\">\(batch.pending)</td><td class=\"n\">\(batch.failed)</td>"
                    + "<td class=\"n\(batch.dead > 0 ? " err" : "")\">\(batch.dead)</td><td>\(Self.escape(state))</td></tr>"
            }
            html += "</table>"
        }

        html += "<h2 id=\"rate-limits\">Rate limits</h2>"
        if limits.isEmpty { html += "<p class=\"muted\">No rate-limited job types (rate: in jobs/&lt;type&gt;.yml).</p>" } else {
            html += "<table><tr><th>type</th><th>limit</th><th>budget</th><th>free now</th><th>waiting</th><th>held until</th></tr>"
            for limiter in limits {
                let rows = limiter.budgets.isEmpty ? [nil] : limiter.budgets.map { Optional($0) }
                for budget in rows {
                    html += "<tr class=\"rate-limit\"><td>\(Self.escape(limiter.type))</td><td>\(Self.escape(limiter.limit.description))</td>"
                        + "<td>\(Self.escape(budget?.key ?? "—"))</td><td class=\"n\">\(budget.map { String($0.available) } ?? "—")</td>"
                        + "<td class=\"n\">\(budget?.waiting ?? 0)</td>"
                        + "<td>\(Self.escape(budget?.heldUntil.map { Date(timeIntervalSince1970: $0).formatted(.iso8601) } ?? ""))</td></tr>"
                }
            }
            html += "</table>"
        }

        html += Self.renderRecords(records)

        html += "<h2>Workers</h2>"
        if workers.isEmpty { html += "<p class=\"muted\">No live worker process.</p>" } else {
            html += "<table><tr><th>host</th><th>pid</th><th>queues</th><th>started</th><th>busy</th></tr>"
            for worker in workers {
                let busy = worker.busy.map { job in
                    var text = "\(Self.escape(job.type)) \(Self.escape(job.id)) (\(Int(now.timeIntervalSince1970 - job.startedAt)) s)"
                    if let progress = job.progress {
                        if let percent = progress.percent {
                            text += " <progress max=\"100\" value=\"\(percent)\">\(percent)%</progress> \(percent)%"
                        } else {
                            text += " \(progress.done) done"
                        }
                        if let message = progress.message { text += " <span class=\"muted\">\(Self.escape(message))</span>" }
                    }
                    return text
                }
                html += "<tr><td>\(Self.escape(worker.host))\(worker.quiet ? " <span class=\"muted\">(quiet)</span>" : "")</td><td class=\"n\">\(worker.pid)</td>"
                    + "<td>\(Self.escape(worker.queues.joined(separator: ", ")))</td>"
                    + "<td>\(Self.escape(Date(timeIntervalSince1970: worker.startedAt).formatted(.iso8601)))</td>"
                    + "<td>\(busy.isEmpty ? "<span class=\"muted\">idle</span>" : busy.joined(separator: "<br>"))</td></tr>"
            }
            html += "</table>"
        }

        html += "<h2>Schedules</h2>"
        if server.schedules.isEmpty { html += "<p class=\"muted\">No schedules loaded.</p>" } else {
            html += "<table><tr><th>entry</th><th>cron</th><th>zone</th><th>job</th><th>next</th></tr>"
            for entry in server.schedules {
                let next = entry.schedule.next(after: now).map { $0.formatted(.iso8601) } ?? "never"
                html += "<tr><td>\(Self.escape(entry.name))\(entry.enabled ? "" : " <span class=\"muted\">(disabled)</span>")</td>"
                    + "<td>\(Self.escape(entry.schedule.expression.source))</td><td>\(Self.escape(entry.timeZoneName))</td>"
                    + "<td>\(Self.escape(entry.jobType))</td><td>\(Self.escape(next))</td></tr>"
            }
            html += "</table>"
        }
        return html + "</body></html>"
    }

    /// Jobs per minute over the last hour, as an inline SVG polyline.
    func throughputGraph() -> String {
        let rates = server.history.ratesPerMinute
        guard rates.count >= 2, let first = rates.first?.at else {
            return "<h2>Throughput</h2><p class=\"muted\">Collecting samples (one every 30 s while the admin server runs).</p>"
        }
        let width = 720.0, height = 120.0
        let peak = max(1, rates.map(\.processed).max() ?? 1)
        let points = rates.map { rate in
            let x = rate.at.timeIntervalSince(first) / server.history.window * width
            let y = height - rate.processed / peak * (height - 10)
            return String(format: "%.1f,%.1f", x, y)
        }.joined(separator: " ")
        return """
            <h2>Throughput</h2><p class="muted">jobs per minute, last hour (peak \(Int(peak)))</p>
            <svg width="\(Int(width))" height="\(Int(height))" role="img" aria-label="jobs per minute">
            <polyline fill="none" stroke="#2f6fdb" stroke-width="2" points="\(points)"/></svg>
            """
    }

    static func button(_ action: String, _ label: String) -> String {
        "<form method=\"post\" action=\"\(escape(action))\"><button type=\"submit\">\(escape(label))</button></form>"
    }

    static func path(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    /// HTML-escapes text: every value on the page passes through here.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
