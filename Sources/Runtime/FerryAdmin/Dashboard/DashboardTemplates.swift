import Foundation
import Hummingbird
import Mustache

/// The dashboard's Mustache templates (`Dashboard/Templates/*.mustache`, compiled into the binary),
/// rendered with swift-mustache: every `{{value}}` is HTML-escaped; the one unescaped slot is a
/// page's body in the frame, itself rendered from a template.
enum DashboardTemplates {
    /// The templates by name, parsed once; a template that does not parse is a bug in Ferry,
    /// reported on the first page asked for and found by `DashboardTemplateTests`.
    static let library: Result<MustacheLibrary, any Error> = Result {
        var library = MustacheLibrary()
        let sources: [(String, [UInt8])] = [
            ("page", PackageResources.page_mustache), ("login", PackageResources.login_mustache),
            ("overview", PackageResources.overview_mustache), ("chart", PackageResources.chart_mustache),
            ("healthcells", PackageResources.healthcells_mustache), ("queuetable", PackageResources.queuetable_mustache),
            ("queues", PackageResources.queues_mustache), ("busy", PackageResources.busy_mustache),
            ("joblist", PackageResources.joblist_mustache), ("confirm", PackageResources.confirm_mustache),
            ("job", PackageResources.job_mustache), ("json", PackageResources.json_mustache),
            ("schedules", PackageResources.schedules_mustache), ("batches", PackageResources.batches_mustache),
            ("limits", PackageResources.limits_mustache), ("records", PackageResources.records_mustache),
            ("time", PackageResources.time_mustache), ("button", PackageResources.button_mustache),
            ("pager", PackageResources.pager_mustache), ("progress", PackageResources.progress_mustache),
            ("error", PackageResources.error_mustache), ("clearqueue", PackageResources.clearqueue_mustache),
            ("queue", PackageResources.queue_mustache), ("batch", PackageResources.batch_mustache),
        ]
        for (name, bytes) in sources {
            try library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        return library
    }

    /// Renders `view` (a value whose stored properties the template names) with the template `name`.
    static func render(_ name: String, _ view: Any) throws(AdminError) -> String {
        let library: MustacheLibrary
        do {
            library = try Self.library.get()
        } catch {
            throw AdminError(status: .internalServerError, code: "template", message: "the dashboard's templates do not parse: \(error)")
        }
        guard let html = library.render(view, withTemplate: name) else {
            throw AdminError(status: .internalServerError, code: "template", message: "the dashboard has no template named \(name)")
        }
        return html
    }

    /// An HTML response that is never cached.
    static func response(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The stylesheet and the script every page loads (`/ui/app.css`, `/ui/app.js`); the
    /// Content-Security-Policy allows styles and scripts from the server only.
    static let assets: [(path: String, contentType: String, body: [UInt8])] = [
        ("/ui/app.css", "text/css; charset=utf-8", PackageResources.app_css),
        ("/ui/app.js", "text/javascript; charset=utf-8", PackageResources.app_js),
    ]
}
