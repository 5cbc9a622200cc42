import FerryQueue
import FerryRedis
import FerryScheduler
import Foundation
import Hummingbird

/// The dashboard: a page per section (overview, queues, busy, retries, scheduled, dead,
/// schedules, batches, rate limits, and one per ``AdminResource``), a page per job, filters and
/// bulk actions with a confirmation that states the count. Server-rendered; buttons are forms
/// posting to `/ui/…`, which act and send the browser back. Works with scripts off.
struct Dashboard {
    let server: AdminServer

    static let perPage = 50

    func register(on router: Router<BasicRequestContext>) {
        let admin = server.admin
        let keys = server.dispatcher.keys

        router.get("/ui/app.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(string: HTML.script)))
        }

        router.get("/") { request, _ in
            let live = request.uri.queryParameters["live"] != "0"
            let (stats, workers, health) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis), try TypeHealth(keys: keys).summary(on: redis))
            }
            let toggle = live
                ? "live: refreshing every 5 s · <a href=\"/?live=0\">stop</a>"
                : "<a href=\"/\">refresh live</a>"
            return Self.respond(HTML.page(title: "Overview", current: "/", counts: Self.counts(stats, workers), refresh: live ? 5 : nil, liveToggle: toggle,
                                     DashboardPages.overview(stats: stats, workers: workers, health: health)))
        }

        router.get("/queues") { _, _ in
            let (stats, workers) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis))
            }
            return Self.respond(HTML.page(title: "Queues", current: "/queues", counts: Self.counts(stats, workers), DashboardPages.queues(stats)))
        }

        router.get("/busy") { _, _ in
            let (stats, workers) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis))
            }
            return Self.respond(HTML.page(title: "Busy", current: "/busy", counts: Self.counts(stats, workers), DashboardPages.busy(workers)))
        }

        router.get("/dead") { request, _ in
            let query = try ListQuery(request)
            let (stats, workers, page, types) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis), try query.deadPage(in: admin, on: redis),
                 // Types to pick from: those among the newest dead jobs.
                 try Set(admin.dead.jobs(limit: 200, on: redis).compactMap { $0.job?.type }))
            }
            return Self.respond(HTML.page(title: "Dead", current: "/dead", counts: Self.counts(stats, workers),
                                     DashboardPages.jobList(.dead, query: query, page: page, queues: stats.queues.keys.sorted(), types: types.sorted())))
        }

        for (path, retries) in [("/retries", true), ("/scheduled", false)] {
            router.get(RouterPath(path)) { request, _ in
                let query = try ListQuery(request)
                let (stats, workers, page) = try await server.blocking.withRedis { redis in
                    (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis),
                     try query.waitingPage(retries: retries, in: admin, on: redis))
                }
                let types = Set(page.jobs.compactMap(\.type))
                return Self.respond(HTML.page(title: retries ? "Retries" : "Scheduled", current: path, counts: Self.counts(stats, workers),
                                         DashboardPages.jobList(retries ? .retries : .scheduled, query: query, page: page,
                                                                queues: stats.queues.keys.sorted(), types: types.sorted())))
            }
        }

        // Bulk actions: a page stating what a filter selects and how many, then the form that acts.
        for list in [DashboardPages.List.dead, .retries] {
            router.get(RouterPath("\(list.path)/bulk")) { request, _ in
                let query = try ListQuery(request)
                let action = try Self.bulkAction(request, list)
                let (stats, workers, count) = try await server.blocking.withRedis { redis in
                    (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis),
                     list == .dead ? try query.dead(in: admin, on: redis).count : try query.waiting(retries: true, in: admin, on: redis).count)
                }
                return Self.respond(HTML.page(title: "Confirm", current: list.path, counts: Self.counts(stats, workers),
                                         DashboardPages.confirm(list, action: action, query: query, count: count)))
            }
            router.post(RouterPath("ui\(list.path)/bulk")) { request, _ in
                try Self.refuseCrossSite(request)
                let query = try ListQuery(request)
                let action = try Self.bulkAction(request, list)
                _ = try await server.blocking.withRedis { redis -> Int in
                    switch (list, action) {
                    case (.dead, "retry"): return try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.retry($1, on: redis) ? 1 : 0) }
                    case (.dead, _): return try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.delete($1, on: redis) ? 1 : 0) }
                    case (_, "retry"): return try query.waiting(retries: true, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.runNow($1, on: redis) ? 1 : 0) }
                    default: return try query.waiting(retries: true, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.delete($1, on: redis) ? 1 : 0) }
                    }
                }
                return Response(status: .seeOther, headers: [.location: list.path + HTML.query([("queue", query.queue), ("type", query.type), ("error", query.errorText)])])
            }
        }

        router.get("/jobs/{id}") { _, context in
            let id = try JobRoutes.id(context)
            let (stats, workers, state) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis), try JobState.find(id: id, admin: admin, on: redis))
            }
            guard let state else {
                throw AdminError.notFound("no job \(id) is queued, running, scheduled or dead, and none finished with a record within its result_ttl")
            }
            return Self.respond(HTML.page(title: "Job \(id)", current: "", counts: Self.counts(stats, workers), DashboardPages.job(id: id, state: state)))
        }

        router.get("/schedules") { _, _ in
            let (stats, workers) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis))
            }
            return Self.respond(HTML.page(title: "Schedules", current: "/schedules", counts: Self.counts(stats, workers), DashboardPages.schedules(server.schedules)))
        }

        router.get("/batches") { request, _ in
            let query = try ListQuery(request)
            let (stats, workers, found) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis),
                 try Batches(dispatcher: server.dispatcher).page(offset: (query.page - 1) * query.perPage, limit: query.perPage, on: redis))
            }
            return Self.respond(HTML.page(title: "Batches", current: "/batches", counts: Self.counts(stats, workers),
                                          DashboardPages.batches(found.batches) + HTML.pager(base: "/batches", filters: [], page: query.page, perPage: query.perPage, total: found.total)))
        }

        router.get("/limits") { _, _ in
            let (stats, workers, limits) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis), try RateLimits(keys: keys).status(on: redis))
            }
            return Self.respond(HTML.page(title: "Rate limits", current: "/limits", counts: Self.counts(stats, workers), DashboardPages.limits(limits)))
        }

        // Every resource's newest records; `?resource=NAME&before=ID`, one resource's older ones.
        router.get("/records") { request, _ in
            let (stats, workers) = try await server.blocking.withRedis { redis in
                (try admin.queues.stats(on: redis), try WorkerRegistry(keys: keys).liveWorkers(on: redis))
            }
            var shown = server.resources
            var before: Int64?
            if let name = request.uri.queryParameters["resource"].map(String.init) {
                guard let resource = shown.first(where: { $0.name == name }) else { throw AdminError.notFound("no records named \(name.prefix(80))") }
                shown = [resource]
                before = try ResourceRoutes.before(request.uri.queryParameters["before"].map(String.init), of: resource)
            }
            var tables: [RecordsTable] = []
            for resource in shown {
                tables.append(await Self.newest(of: resource, before: before, blocking: server.blocking))
            }
            return Self.respond(HTML.page(title: "Records", current: "/records", counts: Self.counts(stats, workers), Self.renderRecords(tables)))
        }

        // Each button: a form post that acts, then sends the browser back to the page it was on.
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
                return Self.back(request)
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
                return Self.back(request)
            }
        }
    }

    static func respond(_ html: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The counts beside the navigation's sections.
    static func counts(_ stats: FerryQueue.Stats, _ workers: [WorkerInfo]) -> [String: Int] {
        let queues = stats.queues.values
        return [
            "/queues": stats.queues.count, "/busy": workers.reduce(0) { $0 + $1.busy.count },
            "/retries": queues.reduce(0) { $0 + $1.retries }, "/scheduled": queues.reduce(0) { $0 + $1.scheduled - $1.retries },
            "/dead": queues.reduce(0) { $0 + $1.dead },
        ]
    }

    static func bulkAction(_ request: Request, _ list: DashboardPages.List) throws -> String {
        let action = request.uri.queryParameters["action"].map(String.init) ?? ""
        guard action == "retry" || action == "delete" else { throw AdminError.badRequest("action must be retry or delete") }
        return action
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

    /// Back to the page the button was on (its path on this server), else the overview.
    static func back(_ request: Request) -> Response {
        var target = "/"
        if let referer = request.headers[.referer], let url = URLComponents(string: referer), url.host == nil || url.host.map({ (request.head.authority ?? "").hasPrefix($0) }) == true,
           url.path.hasPrefix("/"), !url.path.hasPrefix("//"), !url.path.hasPrefix("/jobs/") {
            target = url.path + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        }
        return Response(status: .seeOther, headers: [.location: target])
    }

    // MARK: Records kept outside Redis

    /// The newest records of an ``AdminResource`` (imports, Claude usage…), or why there are none.
    struct RecordsTable {
        var name: String
        var rows: Result<[JSONValue], AdminResource.Failure>
        /// Records below this id were asked for (nil: the newest).
        var before: Int64? = nil
        /// The field holding the id the resource pages by (``AdminResource/pagedBy``).
        var pagedBy: String? = nil
    }

    /// Records shown per table.
    static let recordsPerPage = 20

    static func newest(of resource: AdminResource, before: Int64? = nil, blocking: Blocking) async -> RecordsTable {
        do {
            let rows = try await blocking.run { () throws -> [JSONValue] in
                let items = try resource.list(AdminResource.Query(limit: recordsPerPage, before: before, parameters: [:]))
                let data = try ResourceRoutes.encoder.encode(ResourceRoutes.AnyEncodable(items))
                return try JSONDecoder().decode(JSONValue.self, from: data).elements ?? []
            }
            return RecordsTable(name: resource.name, rows: .success(rows), before: before, pagedBy: resource.pagedBy)
        } catch let failure as AdminResource.Failure {
            return RecordsTable(name: resource.name, rows: .failure(failure))
        } catch {
            return RecordsTable(name: resource.name, rows: .failure(.unavailable("could not be read; see the admin server's log")))
        }
    }

    /// "Newest" and "Older" links under a table paged by id: older when the page is full.
    static func pageLinks(_ table: RecordsTable) -> String {
        guard let field = table.pagedBy, case .success(let rows) = table.rows else { return "" }
        let name = table.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var links: [String] = []
        if table.before != nil { links.append("<a href=\"/records?resource=\(name)\">newest</a>") }
        if rows.count == recordsPerPage, case .int(let last)? = rows.last?[field] {
            links.append("<a href=\"/records?resource=\(name)&amp;before=\(last)\">older →</a>")
        }
        return links.isEmpty ? "" : "<p class=\"pager\">" + links.joined(separator: " · ") + "</p>"
    }

    /// Names that identify a record come first; the others follow in alphabetical order.
    static func columnRank(_ name: String) -> Int {
        ["id", "run_id", "key", "status", "source", "ref", "model", "profile", "user_id", "calls", "accepted", "rows", "cost_usd"].firstIndex(of: name) ?? 100
    }

    /// A table per resource: the scalar fields of its newest records (at most 10 columns).
    static func renderRecords(_ tables: [RecordsTable]) -> String {
        var html = ""
        for table in tables {
            html += "<h2 id=\"\(HTML.escape(table.name.replacingOccurrences(of: "/", with: "-")))\">\(HTML.escape(table.name))</h2>"
            switch table.rows {
            case .failure(.unavailable(let message)), .failure(.badRequest(let message)):
                html += "<p class=\"muted\">\(HTML.escape(message))</p>"
            case .failure(.reply(let status, _)):
                html += "<p class=\"muted\">The records could not be read (HTTP \(status)).</p>"
            case .success(let rows) where rows.isEmpty:
                html += "<p class=\"muted\">\(table.before == nil ? "None yet." : "No older records.")</p>"
            case .success(let rows):
                let columns = (rows.first?.object ?? [:]).filter { field in
                    switch field.value {
                    case .object, .array: return false
                    default: return true
                    }
                }.keys.sorted { (Self.columnRank($0), $0) < (Self.columnRank($1), $1) }.prefix(10)
                html += "<div class=\"scroll\"><table><tr>" + columns.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>"
                for row in rows {
                    html += "<tr class=\"record\">" + columns.map { column -> String in
                        switch row[column] {
                        case .int(let number)?: return "<td class=\"n\">\(HTML.number(Int(clamping: number)))</td>"
                        case .double(let number)?: return "<td class=\"n\">\(number.formatted())</td>"
                        case .string(let text)?: return "<td>\(HTML.escape(String(text.prefix(120))))</td>"
                        case .bool(let flag)?: return "<td>\(flag)</td>"
                        default: return "<td class=\"muted\">—</td>"
                        }
                    }.joined() + "</tr>"
                }
                html += "</table></div>"
            }
            html += pageLinks(table)
        }
        return html
    }
}
