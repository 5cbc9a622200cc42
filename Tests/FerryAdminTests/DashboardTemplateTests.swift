@testable import FerryAdmin
import FerryQueue
import Foundation
import Testing

/// The dashboard's templates on their own: they parse, they escape what they show, and the
/// views put each value where the page needs it.
@Suite struct DashboardTemplateTests {
    static let hostile = "<script>alert('x')</script>&\""

    @Test func everyTemplateParses() throws {
        let library = try DashboardTemplates.library.get()
        for name in ["page", "login", "overview", "chart", "healthcells", "queuetable", "queues", "busy", "joblist", "confirm", "job", "json",
                     "schedules", "batches", "limits", "records", "time", "button", "pager", "progress", "error", "clearqueue", "queue"] {
            #expect(library.getTemplate(named: name) != nil, "\(name)")
        }
        #expect(throws: AdminError.self) { try DashboardTemplates.render("no-such-page", [String: String]()) }
    }

    @Test func textFromJobsIsEscapedInEveryPlaceItShows() throws {
        let job = Job(id: "id-1", type: Self.hostile, queue: "default", args: .object([Self.hostile: .string(Self.hostile)]),
                      maxAttempts: 3, error: JobFailure(type: Self.hostile, message: Self.hostile))
        let page = JobPageView(id: "id-1", state: JobState(state: "dead", worker: Self.hostile, job: JobView(job)))
        let html = try DashboardTemplates.render("job", page)
        #expect(!html.contains("<script>"), "\(html)")
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"), "\(html)")
        #expect(html.contains("<b>dead</b> on worker &lt;script&gt;"), "\(html)")
        let notice = DashboardNotice.message(code: "retried", subject: Self.hostile, count: nil)
        var frame = PageFrame(title: Self.hostile, current: "/dead", counts: PageCounts(stats: try Self.noStats(), workers: []), notice: notice)
        frame.body = "<p>body</p>"
        let framed = try DashboardTemplates.render("page", frame)
        // The page's body is the one unescaped slot; the title is escaped in both places.
        #expect(framed.contains("<main><h1>&lt;script&gt;") && framed.contains("<title>&lt;script&gt;") && framed.contains("<p>body</p>"), "\(framed)")
        #expect(framed.contains(#"<a href="/dead" aria-current="page">Dead<span class="count">0</span></a>"#), "\(framed)")
        // A notice names its subject escaped, and only codes the dashboard knows make one.
        #expect(framed.contains(#"<p class="notice" role="status">Job &lt;script&gt;"#), "\(framed)")
        #expect(DashboardNotice.message(code: "You have won", subject: nil, count: nil) == nil)
        #expect(DashboardNotice.message(code: "bulk-deleted", subject: nil, count: "1") == "1 job deleted.")
        #expect(DashboardNotice.message(code: "bulk-retried", subject: nil, count: "5") == "5 dead jobs retried.")
    }

    static func noStats() throws -> FerryQueue.Stats {
        try JSONDecoder().decode(FerryQueue.Stats.self, from: Data(#"{"queues": {}, "processed": 0, "failed": 0, "workers": 0}"#.utf8))
    }

    @Test func argumentsArePrettyPrintedWithLongPartsFolded() throws {
        let args: JSONValue = .object([
            "list": .array((1...23).map { .int(Int64($0)) }), "long": .string(String(repeating: "a", count: 201)), "empty": .object([:]),
        ])
        let html = try DashboardTemplates.render("json", JSONNode(args))
        let expectedStart = "{\n  &quot;empty&quot;: {},\n  &quot;list&quot;: [\n    1,\n"
        #expect(html.hasPrefix(expectedStart), "\(html)")
        #expect(html.contains("    20,\n<details><summary>3 more</summary>    21,\n    22,\n    23\n</details>  ],\n"), "\(html)")
        #expect(html.contains("&quot;long&quot;: <details><summary>&quot;\(String(repeating: "a", count: 120))&quot;… (201 characters)</summary>"), "\(html)")
        #expect(html.hasSuffix("</details>\n}"), "\(html)")
        // A scalar is one line; a nested value keeps its indentation.
        #expect(try DashboardTemplates.render("json", JSONNode(.int(7))) == "7")
        #expect(try DashboardTemplates.render("json", JSONNode(.object(["a": .array([.object(["b": .null])])]))) == "{\n  &quot;a&quot;: [\n    {\n      &quot;b&quot;: null\n    }\n  ]\n}")
    }

    @Test func everyButtonPostsToItsAction() throws {
        let clear = ClearQueueView(queue: "mail", waiting: "2 waiting jobs", retries: "0 retries",
                                   button: ButtonView(action: "/ui/queues/mail/clear", label: "Delete 2 waiting jobs", danger: true))
        let html = try DashboardTemplates.render("clearqueue", clear)
        #expect(html.contains(#"<form method="post" action="/ui/queues/mail/clear"><button type="submit" class="danger">Delete 2 waiting jobs</button></form>"#), "\(html)")
        let page = JobPageView(id: "r1", state: JobState(state: "retry", worker: nil, job: JobView(Job(id: "r1", type: "t", queue: "q", maxAttempts: 3))))
        let job = try DashboardTemplates.render("job", page)
        for action in ["/ui/scheduled/r1/run", "/ui/scheduled/r1/kill", "/ui/scheduled/r1/delete"] {
            #expect(job.contains("action=\"\(action)\""), "\(action): \(job)")
        }
        #expect(!job.contains(#"action="""#), "\(job)")
    }

    @Test func aCeleryTaskShowsItsNameAndExpiry() throws {
        let job = Job(id: "c1", type: "email.send", queue: "mail", maxAttempts: 3, expiresAt: 1_800_000_000,
                      origin: ["protocol": "celery", "task": "app.tasks.<send>", "result": true])
        let html = try DashboardTemplates.render("job", JobPageView(id: "c1", state: JobState(state: "ready", worker: nil, job: JobView(job))))
        #expect(html.contains("<dt>sent by</dt><dd>Celery, as task app.tasks.&lt;send&gt;</dd>"), "\(html)")
        #expect(html.contains("<dt>expires</dt>"), "\(html)")
        let plain = try DashboardTemplates.render("job", JobPageView(id: "p1", state: JobState(state: "ready", worker: nil, job: JobView(Job(id: "p1", type: "t", queue: "q", maxAttempts: 3)))))
        #expect(!plain.contains("sent by") && !plain.contains("expires"), "\(plain)")
    }

    @Test func recordsReadAsPeopleReadThem() throws {
        let resource = AdminResource(name: "claude/usage", list: { _ in [String]() }, show: nil as (@Sendable (String) throws -> String?)?)
        let rows: [JSONValue] = [["job_id": "j-1", "started_at": "2026-12-07T18:29:17Z", "bytes_done": 2048, "note": "<b>"]]
        let html = try DashboardTemplates.render("records", RecordsView(tables: [RecordsView.Table(resource, before: nil, rows: .success(rows))]))
        #expect(html.contains(#"<h2 id="claude-usage">Claude usage</h2>"#), "\(html)")
        #expect(html.contains("<th>job id</th>") && html.contains("<th>bytes done</th>"), "\(html)")
        #expect(html.contains(#"<td><a href="/jobs/j-1">j-1</a></td>"#), "\(html)")
        #expect(html.contains(#"<td><time datetime="2026-12-07T18:29:17Z""#), "\(html)")
        #expect(html.contains(#"<td class="n">2,048</td>"#) && html.contains("<td>&lt;b&gt;</td>"), "\(html)")
    }

    @Test func aMissingValueIsNeverTakenFromAnEnclosingOne() throws {
        // A row without a time inside a page whose other rows have one: the dash, not a neighbour's time.
        let html = try DashboardTemplates.render("limits", LimitsView([]))
        #expect(html.contains("No rate-limited job types"), "\(html)")
        let page = JobPageView(id: "x", state: JobState(state: "succeeded", worker: nil, job: nil, queue: "mail", finishedAt: 1_700_000_000))
        let rendered = try DashboardTemplates.render("job", page)
        #expect(rendered.contains("<dt>type</dt><dd>—</dd><dt>queue</dt><dd>mail</dd><dt>finished</dt><dd><time datetime=\"2023-11-14T22:13:20Z\""), "\(rendered)")
        #expect(!rendered.contains("Arguments") && !rendered.contains("<form"), "\(rendered)")
        // A finished job whose record kept its type and arguments shows them, and how to run it again.
        let kept = JobPageView(id: "y", state: JobState(state: "succeeded", worker: nil, job: nil, type: "ferry.echo", args: .object(["n": .int(7)]), queue: "default", finishedAt: 1_700_000_000))
        let keptPage = try DashboardTemplates.render("job", kept)
        #expect(keptPage.contains("<dt>type</dt><dd>ferry.echo</dd>") && keptPage.contains("<h2>Arguments</h2>") && keptPage.contains("ferry enqueue &#39;ferry.echo&#39; --args &#39;{&quot;n&quot;:7}&#39;"), "\(keptPage)")
    }
}
