import FerryQueue
import FerryRedis
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /dead`, `/retries`, `/scheduled`: filtered, paged lists with a button per job; bulk
    /// actions on what a filter selects, behind a page that states the count (`GET /dead/bulk`,
    /// `POST /ui/dead/bulk`, the same for retries).
    struct JobListController {
        let server: AdminServer

        /// The job lists.
        enum List: Equatable, Sendable {
            case dead, retries, scheduled

            var path: String {
                switch self {
                case .dead: "/dead"
                case .retries: "/retries"
                case .scheduled: "/scheduled"
                }
            }

            var title: String {
                switch self {
                case .dead: "Dead"
                case .retries: "Retries"
                case .scheduled: "Scheduled"
                }
            }

            /// `count` of this list's jobs: "1 dead job", "5 dead jobs".
            func counted(_ count: Int) -> String {
                switch self {
                case .dead: Format.count(count, "dead job")
                case .retries: Format.count(count, "retry", plural: "retries")
                case .scheduled: Format.count(count, "scheduled job")
                }
            }
        }

        func addRoutes(to router: Router<BasicRequestContext>) {
            for list in [List.dead, .retries, .scheduled] {
                router.get(RouterPath(list.path)) { request, _ in try await page(list, request) }
            }
            for list in [List.dead, .retries] {
                router.get(RouterPath("\(list.path)/bulk")) { request, _ in try await confirm(list, request) }
                router.post(RouterPath("ui\(list.path)/bulk")) { request, _ in try await bulk(list, request) }
            }
        }

        func page(_ list: List, _ request: Request) async throws -> Response {
            let query = try ListQuery(request)
            let (counts, page, types) = try await server.blocking.withRedis { [server] redis in
                let counts = try PageCounts.read(server, on: redis)
                switch list {
                case .dead:
                    // Types to pick from: those among the newest dead jobs.
                    return (counts, try query.deadPage(in: server.admin, on: redis), Set(try server.admin.dead.jobs(limit: 200, on: redis).compactMap { $0.job?.type }))
                case .retries, .scheduled:
                    let page = try query.waitingPage(retries: list == .retries, in: server.admin, on: redis)
                    return (counts, page, Set(page.jobs.compactMap(\.type)))
                }
            }
            let view = JobListView(list, query: query, page: page, queues: counts.stats.queues.keys.sorted(), types: types.sorted())
            return try DashboardTemplates.page(PageFrame(title: list.title, current: list.path, counts: counts, notice: DashboardNotice.message(for: request)), "joblist", view)
        }

        func confirm(_ list: List, _ request: Request) async throws -> Response {
            let query = try ListQuery(request)
            let action = try Self.bulkAction(request)
            let (counts, selected) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis), try selection(list, query, on: redis).count)
            }
            return try DashboardTemplates.page(PageFrame(title: "Confirm", current: list.path, counts: counts, notice: DashboardNotice.message(for: request)), "confirm",
                                               ConfirmView(list, action: action, query: query, count: selected))
        }

        func bulk(_ list: List, _ request: Request) async throws -> Response {
            try Dashboard.refuseCrossSite(request)
            let query = try ListQuery(request)
            let action = try Self.bulkAction(request)
            let done = try await server.blocking.withRedis { [server] redis -> Int in
                let admin = server.admin
                switch (try selection(list, query, on: redis), action) {
                case (.dead(let jobs), .retry): return try jobs.reduce(0) { $0 + (try admin.dead.retry($1, on: redis) ? 1 : 0) }
                case (.dead(let jobs), .delete): return try jobs.reduce(0) { $0 + (try admin.dead.delete($1, on: redis) ? 1 : 0) }
                case (.waiting(let jobs), .retry): return try jobs.reduce(0) { $0 + (try admin.scheduled.runNow($1, on: redis) ? 1 : 0) }
                case (.waiting(let jobs), .delete): return try jobs.reduce(0) { $0 + (try admin.scheduled.delete($1, on: redis) ? 1 : 0) }
                }
            }
            let notice: DashboardNotice = action == .delete ? .bulkDeleted : list == .dead ? .bulkRetried : .bulkRan
            let filters: [(String, String?)] = [("queue", query.queue), ("type", query.type), ("error", query.errorText)]
            return Response(status: .seeOther, headers: [.location: list.path + Format.query(filters + notice.query(count: done))])
        }

        /// The jobs a bulk action acts on.
        enum Selection {
            case dead([DeadJob])
            case waiting([ScheduledJob])

            var count: Int {
                switch self {
                case .dead(let jobs): jobs.count
                case .waiting(let jobs): jobs.count
                }
            }
        }

        private func selection(_ list: List, _ query: ListQuery, on redis: RedisConnection) throws -> Selection {
            list == .dead ? .dead(try query.dead(in: server.admin, on: redis)) : .waiting(try query.waiting(retries: true, in: server.admin, on: redis))
        }

        enum BulkAction: String {
            case retry, delete
        }

        static func bulkAction(_ request: Request) throws -> BulkAction {
            guard let action = request.uri.queryParameters["action"].flatMap({ BulkAction(rawValue: String($0)) }) else {
                throw AdminError.badRequest("action must be retry or delete")
            }
            return action
        }
    }
}

struct JobListView {
    struct Option {
        let name: String
        let selected: Bool
    }

    struct Column {
        let title: String
        var numeric = false
    }

    struct Cell {
        let text: String
        let cellClass: String
    }

    struct Row {
        let rowClass: String
        let id: String
        let href: String
        let type: String
        let queue: String
        let cells: [Cell]
        let time: TimeView
        let buttons: [ButtonView]
    }

    /// Links to act on everything the filter selects.
    struct Bulk {
        let intro: String
        let retryHref: String
        let retryLabel: String
        let deleteHref: String
    }

    let path: String
    let queueOptions: [Option]
    let typeFilter: String
    let typeOptions: [String]
    /// The error filter's value, where the list has one.
    let errorFilter: String?
    let filtered: Bool
    let bulk: Bulk?
    let columns: [Column]
    let rows: [Row]
    let emptyMessage: String
    let pager: PagerView
    let windowNote: String?

    init(_ list: Dashboard.JobListController.List, query: ListQuery, page: Page, queues: [String], types: [String]) {
        let filters: [(String, String?)] = [("queue", query.queue), ("type", query.type), ("error", query.errorText)]
        let narrowed = query.queue != nil || query.isFiltered
        path = list.path
        queueOptions = queues.map { Option(name: $0, selected: query.queue == $0) }
        typeFilter = query.type ?? ""
        typeOptions = types
        errorFilter = list == .scheduled ? nil : query.errorText ?? ""
        filtered = narrowed
        if list != .scheduled, page.total > 0 {
            let selection = Format.query(filters)
            let separator = selection.isEmpty ? "?" : "&"
            bulk = Bulk(
                intro: narrowed ? "For the \(list.counted(page.total)) this filter selects" : page.total == 1 ? "For the \(list.counted(1))" : "For all \(list.counted(page.total))",
                retryHref: "\(list.path)/bulk\(selection)\(separator)action=retry", retryLabel: list == .dead ? "retry" : "run",
                deleteHref: "\(list.path)/bulk\(selection)\(separator)action=delete"
            )
        } else {
            bulk = nil
        }
        columns = switch list {
        case .dead: [.init(title: "job"), .init(title: "type"), .init(title: "queue"), .init(title: "error"), .init(title: "died"), .init(title: "")]
        case .retries:
            [.init(title: "job"), .init(title: "type"), .init(title: "queue"), .init(title: "attempt", numeric: true), .init(title: "last error"),
             .init(title: "next attempt"), .init(title: "")]
        case .scheduled: [.init(title: "job"), .init(title: "type"), .init(title: "queue"), .init(title: "runs at"), .init(title: "")]
        }
        rows = page.jobs.map { job in
            let cells: [Cell], time: TimeView, buttons: [ButtonView]
            switch list {
            case .dead:
                cells = [Cell(text: job.error.map { "\($0.type): \(String($0.message.prefix(300)))" } ?? "", cellClass: "err")]
                time = TimeView(job.diedAt)
                buttons = [.retry(job.id), .deleteDead(job.id)]
            case .retries:
                cells = [Cell(text: "\(job.attempt ?? 0) of \(job.maxAttempts ?? 0)", cellClass: "n"), Cell(text: String((job.error?.message ?? "").prefix(300)), cellClass: "err")]
                time = TimeView(job.runAt)
                buttons = [.runNow(job.id), .kill(job.id), .deleteScheduled(job.id)]
            case .scheduled:
                cells = []
                time = TimeView(job.runAt)
                buttons = [.runNow(job.id), .deleteScheduled(job.id)]
            }
            return Row(rowClass: list == .dead ? "dead-job" : "waiting-job", id: job.id, href: Format.jobHref(job.id), type: job.type ?? "(unparsable)",
                       queue: job.queue, cells: cells, time: time, buttons: buttons)
        }
        emptyMessage = narrowed ? "Nothing matches." : "None."
        pager = PagerView(base: list.path, filters: filters, page: query.page, perPage: query.perPage, total: page.total)
        windowNote = query.isFiltered ? "Filters look at the newest \(Format.number(ListQuery.window)) of each queue." : nil
    }
}

/// What a bulk action would do, and the button that does it.
struct ConfirmView {
    let verb: String
    /// "5 dead jobs".
    let counted: String
    let selection: String?
    let deleting: Bool
    let button: ButtonView?
    let cancelHref: String

    init(_ list: Dashboard.JobListController.List, action: Dashboard.JobListController.BulkAction, query: ListQuery, count: Int) {
        let filters: [(String, String?)] = [("queue", query.queue), ("type", query.type), ("error", query.errorText)]
        verb = action == .retry ? (list == .dead ? "Retry" : "Run now") : "Delete"
        counted = list.counted(count)
        var described: [String] = []
        if let queue = query.queue { described.append("queue \(queue)") }
        if let type = query.type { described.append("type \(type)") }
        if let error = query.errorText { described.append("error containing “\(error)”") }
        selection = described.isEmpty ? nil : described.joined(separator: ", ")
        deleting = action == .delete
        button = count > 0
            ? ButtonView(action: "/ui\(list.path)/bulk\(Format.query(filters + [("action", action.rawValue)]))", label: "\(verb) \(list.counted(count))", danger: deleting)
            : nil
        cancelHref = list.path + Format.query(filters)
    }
}
