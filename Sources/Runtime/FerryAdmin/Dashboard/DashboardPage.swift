import FerryQueue
import FerryRedis
import Hummingbird

/// What every page's frame shows besides its body: the sections with their counts, the current
/// one marked, and the overview's live refresh.
struct PageFrame {
    /// The navigation's sections: path, title.
    static let sections: [(path: String, title: String)] = [
        ("/", "Overview"), ("/queues", "Queues"), ("/busy", "Busy"), ("/retries", "Retries"), ("/scheduled", "Scheduled"),
        ("/dead", "Dead"), ("/schedules", "Schedules"), ("/batches", "Batches"), ("/limits", "Rate limits"), ("/records", "Records"),
    ]

    struct Section {
        let path: String
        let title: String
        let current: Bool
        let count: String?
    }

    /// Live refresh on the overview: on (reload every 5 s, a link to stop) or off (a link to start).
    struct Live {
        let on: Bool
    }

    let title: String
    let documentTitle: String
    let sections: [Section]
    let refresh: Int?
    let live: Live?
    /// What the action that led here did (``DashboardNotice``).
    let notice: String?
    var body = ""

    init(title: String, current: String, counts: PageCounts, notice: String? = nil, live: Bool? = nil) {
        self.title = title
        documentTitle = title == "Overview" ? "Ferry" : "\(title) · Ferry"
        sections = Self.sections.map { section in
            Section(path: section.path, title: section.title, current: section.path == current, count: counts.bySection[section.path].map(Format.number))
        }
        refresh = live == true ? 5 : nil
        self.live = live.map(Live.init)
        self.notice = notice
    }
}

/// The figures beside the navigation's sections, read with every page.
struct PageCounts {
    let stats: FerryQueue.Stats
    let workers: [WorkerInfo]
    let bySection: [String: Int]

    init(stats: FerryQueue.Stats, workers: [WorkerInfo]) {
        self.stats = stats
        self.workers = workers
        let queues = stats.queues.values
        bySection = [
            "/queues": stats.queues.count, "/busy": workers.reduce(0) { $0 + $1.busy.count },
            "/retries": queues.reduce(0) { $0 + $1.retries }, "/scheduled": queues.reduce(0) { $0 + $1.scheduled - $1.retries },
            "/dead": queues.reduce(0) { $0 + $1.dead },
        ]
    }

    static func read(_ server: AdminServer, on redis: RedisConnection) throws -> PageCounts {
        PageCounts(stats: try server.admin.queues.stats(on: redis), workers: try WorkerRegistry(keys: server.dispatcher.keys).liveWorkers(on: redis))
    }
}

extension DashboardTemplates {
    /// A whole page: `template` rendered with `view`, inside the frame.
    static func page(_ frame: PageFrame, _ template: String, _ view: Any) throws(AdminError) -> Response {
        var frame = frame
        frame.body = try render(template, view)
        return response(try render("page", frame))
    }
}
