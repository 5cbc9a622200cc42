import Foundation
import Hummingbird

/// The dashboard: a page per section (overview, queues, busy, retries, scheduled, dead,
/// schedules, batches, rate limits, records), a page per job, filters and bulk actions with a
/// confirmation that states the count. Server-rendered from Mustache templates
/// (``DashboardTemplates``); each section is a controller; buttons are forms posting to `/ui/…`,
/// which act and send the browser back. Works with scripts off.
struct Dashboard {
    let server: AdminServer

    func addRoutes(to router: Router<BasicRequestContext>) {
        for asset in DashboardTemplates.assets {
            router.get(RouterPath(asset.path)) { _, _ in
                Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(bytes: asset.body)))
            }
        }
        OverviewController(server: server).addRoutes(to: router)
        QueuesController(server: server).addRoutes(to: router)
        JobListController(server: server).addRoutes(to: router)
        JobPageController(server: server).addRoutes(to: router)
        SchedulesController(server: server).addRoutes(to: router)
        BatchesController(server: server).addRoutes(to: router)
        LimitsController(server: server).addRoutes(to: router)
        RecordsController(server: server).addRoutes(to: router)
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

    /// Back to the page the button was on (its path on this server, else the overview), saying
    /// what the action did. A job's own page stays the target unless the job is gone from it
    /// (deleted): then the list it was in.
    static func back(_ request: Request, notice: [(String, String?)], jobGoneTo list: String? = nil) -> Response {
        var path = "/"
        var items: [URLQueryItem] = []
        if let referer = request.headers[.referer], let url = URLComponents(string: referer), url.host == nil || url.host.map({ (request.head.authority ?? "").hasPrefix($0) }) == true,
           url.path.hasPrefix("/"), !url.path.hasPrefix("//") {
            path = url.path
            items = (url.queryItems ?? []).filter { !DashboardNotice.parameters.contains($0.name) }
        }
        if path.hasPrefix("/jobs/"), let list = list {
            path = list
            items = []
        }
        var components = URLComponents()
        components.queryItems = items + notice.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        return Response(status: .seeOther, headers: [.location: path + "?" + (components.percentEncodedQuery ?? "")])
    }
}
