import FerryQueue
import FerryScheduler
import Foundation

/// The bodies of the dashboard's pages (the frame is ``HTML/page(title:current:counts:refresh:liveToggle:_:)``).
enum DashboardPages {
    /// The job lists that can be filtered.
    enum List: Equatable {
        case dead, retries, scheduled

        var path: String {
            switch self {
            case .dead: "/dead"
            case .retries: "/retries"
            case .scheduled: "/scheduled"
            }
        }

        var noun: String {
            switch self {
            case .dead: "dead jobs"
            case .retries: "retries"
            case .scheduled: "scheduled jobs"
            }
        }
    }

    /// Below this share of successful attempts a job type is marked failing (the applications'
    /// "background job success > 99.5%").
    static let healthyShare = 0.995

    // MARK: Overview

    static func overview(stats: FerryQueue.Stats, workers: [WorkerInfo], health: TypeHealth.Summary) -> String {
        let queues = stats.queues.values
        var html = "<div class=\"totals\">"
        for (label, value) in [
            ("processed", stats.processed), ("failed attempts", stats.failed), ("ready", queues.reduce(0) { $0 + $1.ready }),
            ("running", workers.reduce(0) { $0 + $1.busy.count }), ("dead", queues.reduce(0) { $0 + $1.dead }), ("worker processes", stats.workers),
        ] {
            html += "<span>\(label) <b>\(HTML.number(value))</b></span>"
        }
        html += "</div>"
        html += "<h2>Throughput and failures, last hour</h2>" + chart(health.minutes)

        html += "<h2>Health by job type</h2>"
        let types = Set(health.lastHour.keys).union(health.lastDay.keys).sorted()
        let rows = types.map { type -> String in
            let hour = health.lastHour[type] ?? TypeHealth.Counts(), day = health.lastDay[type] ?? TypeHealth.Counts()
            let failing = [hour.successRate, day.successRate].contains { ($0 ?? 1) < healthyShare }
            func cells(_ counts: TypeHealth.Counts) -> String {
                let rate = counts.successRate.map { String(format: "%.2f%%", $0 * 100) } ?? "—"
                let good = (counts.successRate ?? 1) >= healthyShare
                return "<td class=\"n\">\(HTML.number(counts.succeeded))</td><td class=\"n\">\(HTML.number(counts.retried + counts.dead))</td>"
                    + "<td class=\"n \(good ? "ok" : "err")\">\(rate)</td>"
            }
            return "<tr class=\"health\(failing ? " failing" : "")\"><td><a href=\"/dead\(HTML.escape(HTML.query([("type", type)])))\">\(HTML.escape(type))</a>"
                + "\(failing ? " <span class=\"err\">below \(String(format: "%.1f", healthyShare * 100))%</span>" : "")</td>\(cells(hour))\(cells(day))</tr>"
        }
        html += HTML.table(["type", "succeeded (hour)", "failed (hour)", "success (hour)", "succeeded (day)", "failed (day)", "success (day)"],
                           numeric: [1, 2, 3, 4, 5, 6], rows: rows, empty: "No job has finished in the last day (workers report every 5 s).")

        html += "<h2>Queues</h2>" + queueTable(stats, actions: false)
        return html
    }

    /// Attempts and failures per minute as an SVG chart with labelled axes.
    static func chart(_ minutes: [(at: Double, counts: TypeHealth.Counts)]) -> String {
        guard minutes.count >= 2 else { return "<p class=\"muted\">No data yet.</p>" }
        let width = 720.0, height = 210.0, left = 52.0, bottom = 24.0, top = 20.0, right = 24.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let peakValue = max(5, minutes.map(\.counts.attempts).max() ?? 5)
        // A round top for the axis: 1, 2 or 5 times a power of ten.
        var scale = 1.0
        while scale * 10 <= Double(peakValue) { scale *= 10 }
        let peak = [1.0, 2.0, 5.0, 10.0].map { $0 * scale }.first { $0 >= Double(peakValue) } ?? Double(peakValue)
        func x(_ index: Int) -> Double { left + Double(index) / Double(minutes.count - 1) * plotWidth }
        func y(_ value: Int) -> Double { top + plotHeight - Double(value) / peak * plotHeight }
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" style=\"max-width:\(Int(width))px\" role=\"img\" aria-label=\"job attempts and failures per minute over the last hour\">"
        // Round steps: a fifth of 1, 5 or 10 × 10ⁿ, a quarter of 2 × 10ⁿ.
        let steps = peak / scale == 2 ? 4 : 5
        for step in 0...steps {
            let value = peak * Double(step) / Double(steps)
            let lineY = top + plotHeight - Double(step) / Double(steps) * plotHeight
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(lineY)\" y2=\"\(lineY)\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(lineY + 4)\" text-anchor=\"end\">\(HTML.number(Int(value)))</text>"
        }
        for minutesAgo in stride(from: 60, through: 0, by: -10) {
            let index = max(0, minutes.count - 1 - minutesAgo)
            svg += "<text x=\"\(x(index))\" y=\"\(height - 6)\" text-anchor=\"middle\">\(minutesAgo == 0 ? "now" : "−\(minutesAgo) min")</text>"
        }
        svg += "<text x=\"\(left - 6)\" y=\"10\" text-anchor=\"end\">per min</text>"
        let processed = minutes.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.counts.attempts)) }.joined(separator: " ")
        let failed = minutes.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.counts.retried + $0.element.counts.dead)) }.joined(separator: " ")
        svg += "<polyline class=\"processed\" points=\"\(processed)\"/><polyline class=\"failed\" points=\"\(failed)\"/></svg>"
        let total = minutes.reduce(TypeHealth.Counts()) { $0 + $1.counts }
        return svg + "<p class=\"legend\"><span style=\"color:var(--accent)\">━ attempts per minute</span><span class=\"err\">━ failed attempts per minute</span>"
            + "<span class=\"muted\">last hour: \(HTML.number(total.attempts)) attempts, \(HTML.number(total.retried + total.dead)) failed</span></p>"
    }

    // MARK: Queues and workers

    static func queueTable(_ stats: FerryQueue.Stats, actions: Bool) -> String {
        let rows = stats.queues.sorted(by: { $0.key < $1.key }).map { name, queue -> String in
            var row = "<tr><td>\(HTML.escape(name))\(queue.paused ? " <span class=\"muted\">(paused)</span>" : "")</td>"
                + [queue.ready, queue.scheduled, queue.inFlight, queue.orphaned, queue.dead].map { "<td class=\"n\">\(HTML.number($0))</td>" }.joined()
                + "<td class=\"n\">\(String(format: "%.3f s", queue.latencyS))</td>"
                + "<td class=\"n\">\(HTML.number(queue.processed))</td><td class=\"n\">\(HTML.number(queue.failed))</td>"
            if actions {
                let action = queue.paused ? "resume" : "pause"
                row += "<td>\(HTML.button("/ui/queues/\(HTML.path(name))/\(action)", action.capitalized))</td>"
            }
            return row + "</tr>"
        }
        return HTML.table(["queue", "ready", "scheduled", "in flight", "orphaned", "dead", "latency", "processed", "failed"] + (actions ? [""] : []),
                          numeric: [1, 2, 3, 4, 5, 6, 7, 8], rows: rows, empty: "No queues yet.")
    }

    static func queues(_ stats: FerryQueue.Stats) -> String {
        "<p class=\"muted\">Latency: how long the oldest ready job has waited. Pausing stops fetching; running jobs finish.</p>" + queueTable(stats, actions: true)
    }

    static func busy(_ workers: [WorkerInfo]) -> String {
        let now = Date().timeIntervalSince1970
        let running = workers.flatMap { worker in worker.busy.map { (worker, $0) } }.map { worker, job -> String in
            var progress = "<span class=\"muted\">—</span>"
            if let reported = job.progress {
                progress = reported.percent.map { "<progress max=\"100\" value=\"\($0)\">\($0)%</progress> \($0)%" } ?? "\(HTML.number(reported.done)) done"
                if let message = reported.message { progress += " <span class=\"muted\">\(HTML.escape(message))</span>" }
            }
            return "<tr class=\"busy-job\"><td>\(HTML.jobLink(job.id))</td><td>\(HTML.escape(job.type))</td><td>\(HTML.escape(job.queue))</td>"
                + "<td>\(HTML.escape(worker.host)) · \(worker.pid)</td><td class=\"n\">\(HTML.seconds(now - job.startedAt))</td><td>\(progress)</td></tr>"
        }
        var html = "<h2>Running jobs</h2>" + HTML.table(["job", "type", "queue", "worker", "running for", "progress"], numeric: [4], rows: running, empty: "Nothing is running.")
        let processes = workers.map { worker in
            "<tr><td>\(HTML.escape(worker.host))\(worker.quiet ? " <span class=\"muted\">(quiet)</span>" : "")</td><td class=\"n\">\(worker.pid)</td>"
                + "<td>\(HTML.escape(worker.queues.joined(separator: ", ")))</td><td class=\"n\">\(worker.busy.count) of \(worker.concurrency)</td>"
                + "<td>\(HTML.time(worker.startedAt))</td></tr>"
        }
        html += "<h2>Worker processes</h2>" + HTML.table(["host", "pid", "queues", "busy", "started"], numeric: [1, 3], rows: processes, empty: "No live worker process.")
        return html
    }

    // MARK: Job lists

    static func jobList(_ list: List, query: ListQuery, page: Page, queues: [String], types: [String]) -> String {
        let filters: [(String, String?)] = [("queue", query.queue), ("type", query.type), ("error", query.errorText)]
        var html = "<form class=\"filters\" method=\"get\" action=\"\(list.path)\" role=\"search\">"
        html += "<label>queue<select name=\"queue\"><option value=\"\">all</option>"
            + queues.map { "<option\(query.queue == $0 ? " selected" : "")>\(HTML.escape($0))</option>" }.joined() + "</select></label>"
        html += "<label>type<input name=\"type\" list=\"types\" value=\"\(HTML.escape(query.type ?? ""))\" placeholder=\"any\"></label>"
            + "<datalist id=\"types\">" + types.map { "<option value=\"\(HTML.escape($0))\">" }.joined() + "</datalist>"
        if list != .scheduled {
            html += "<label>error contains<input name=\"error\" value=\"\(HTML.escape(query.errorText ?? ""))\" placeholder=\"text\"></label>"
        }
        html += "<button type=\"submit\">Filter</button>"
        if query.queue != nil || query.isFiltered { html += " <a href=\"\(list.path)\">clear</a>" }
        html += "</form>"
        if list != .scheduled, page.total > 0 {
            let selection = HTML.escape(HTML.query(filters))
            let separator = selection.isEmpty ? "?" : "&amp;"
            html += "<p>\(query.queue != nil || query.isFiltered ? "For the \(HTML.number(page.total)) \(list.noun) this filter selects" : "For all \(HTML.number(page.total)) \(list.noun)"): "
                + "<a href=\"\(list.path)/bulk\(selection)\(separator)action=retry\">\(list == .dead ? "retry" : "run") all…</a> · "
                + "<a class=\"err\" href=\"\(list.path)/bulk\(selection)\(separator)action=delete\">delete all…</a></p>"
        }
        let rows = page.jobs.map { job -> String in
            var row = "<tr class=\"\(list == .dead ? "dead-job" : "waiting-job")\"><td>\(HTML.jobLink(job.id))</td><td>\(HTML.escape(job.type ?? "(unparsable)"))</td><td>\(HTML.escape(job.queue))</td>"
            switch list {
            case .dead:
                row += "<td class=\"err\">\(HTML.escape(job.error.map { "\($0.type): \(String($0.message.prefix(300)))" } ?? ""))</td><td>\(HTML.time(job.diedAt))</td>"
                row += "<td>\(HTML.button("/ui/dead/\(HTML.path(job.id))/retry", "Retry")) \(HTML.button("/ui/dead/\(HTML.path(job.id))/delete", "Delete", danger: true))</td>"
            case .retries:
                row += "<td class=\"n\">\(job.attempt ?? 0) of \(job.maxAttempts ?? 0)</td><td class=\"err\">\(HTML.escape(String((job.error?.message ?? "").prefix(300))))</td>"
                row += "<td>\(HTML.time(job.runAt))</td><td>\(HTML.button("/ui/scheduled/\(HTML.path(job.id))/run", "Run now")) \(HTML.button("/ui/scheduled/\(HTML.path(job.id))/delete", "Delete", danger: true))</td>"
            case .scheduled:
                row += "<td>\(HTML.time(job.runAt))</td><td>\(HTML.button("/ui/scheduled/\(HTML.path(job.id))/run", "Run now")) \(HTML.button("/ui/scheduled/\(HTML.path(job.id))/delete", "Delete", danger: true))</td>"
            }
            return row + "</tr>"
        }
        let header: [String] = switch list {
        case .dead: ["job", "type", "queue", "error", "died", ""]
        case .retries: ["job", "type", "queue", "attempt", "last error", "next attempt", ""]
        case .scheduled: ["job", "type", "queue", "runs at", ""]
        }
        html += HTML.table(header, numeric: list == .retries ? [3] : [], rows: rows, empty: query.isFiltered || query.queue != nil ? "Nothing matches." : "None.")
        html += HTML.pager(base: list.path, filters: filters, page: query.page, perPage: query.perPage, total: page.total)
        if query.isFiltered { html += "<p class=\"muted\">Filters look at the newest \(HTML.number(ListQuery.window)) of each queue.</p>" }
        return html
    }

    static func confirm(_ list: List, action: String, query: ListQuery, count: Int) -> String {
        let filters: [(String, String?)] = [("queue", query.queue), ("type", query.type), ("error", query.errorText), ("action", action)]
        let verb = action == "retry" ? (list == .dead ? "Retry" : "Run now") : "Delete"
        var described: [String] = []
        if let queue = query.queue { described.append("queue \(HTML.escape(queue))") }
        if let type = query.type { described.append("type \(HTML.escape(type))") }
        if let error = query.errorText { described.append("error containing “\(HTML.escape(error))”") }
        var html = "<p>\(verb) <b>\(HTML.number(count))</b> \(list.noun)\(described.isEmpty ? "" : " with " + described.joined(separator: ", "))?"
        if action == "delete" { html += " <span class=\"err\">Deleted jobs are gone for good.</span>" }
        html += "</p>"
        if count > 0 {
            html += HTML.button("/ui\(list.path)/bulk\(HTML.query(filters))", "\(verb) \(HTML.number(count)) \(list.noun)", danger: action == "delete")
        }
        return html + " <a href=\"\(list.path)\(HTML.escape(HTML.query(Array(filters.dropLast()))))\">Cancel</a>"
    }

    // MARK: A job

    static func job(id: String, state: JobState) -> String {
        var html = "<dl><dt>state</dt><dd><b>\(HTML.escape(state.state))</b>\(state.worker.map { " on worker \(HTML.escape($0))" } ?? "")</dd>"
        let job = state.job
        html += "<dt>type</dt><dd>\(HTML.escape(job?.type ?? "—"))</dd><dt>queue</dt><dd>\(HTML.escape(job?.queue ?? state.queue ?? "—"))</dd>"
        if let job {
            html += "<dt>attempt</dt><dd>\(job.attempt ?? 0) of \(job.maxAttempts ?? 0)</dd>"
            html += "<dt>created</dt><dd>\(HTML.time(job.createdAt))</dd><dt>enqueued</dt><dd>\(HTML.time(job.enqueuedAt))</dd>"
            if let runAt = job.runAt { html += "<dt>\(state.state == "retry" ? "next attempt" : "runs at")</dt><dd>\(HTML.time(runAt))</dd>" }
            if let error = job.error { html += "<dt>failed</dt><dd>\(HTML.time(error.at))</dd>" }
            if let died = job.diedAt { html += "<dt>died</dt><dd>\(HTML.time(died))</dd>" }
        }
        if let finished = state.finishedAt { html += "<dt>finished</dt><dd>\(HTML.time(finished))</dd>" }
        if let progress = state.progress {
            html += "<dt>progress</dt><dd>\(progress.percent.map { "<progress max=\"100\" value=\"\($0)\"></progress> \($0)%" } ?? "\(HTML.number(progress.done)) done")"
                + "\(progress.message.map { " <span class=\"muted\">\(HTML.escape($0))</span>" } ?? "")</dd>"
        }
        html += "</dl>"

        // Actions by where the job is.
        var actions: [String] = []
        switch state.state {
        case "dead":
            actions = [HTML.button("/ui/dead/\(HTML.path(id))/retry", "Retry"), HTML.button("/ui/dead/\(HTML.path(id))/delete", "Delete", danger: true)]
        case "retry", "scheduled":
            actions = [HTML.button("/ui/scheduled/\(HTML.path(id))/run", "Run now"), HTML.button("/ui/scheduled/\(HTML.path(id))/delete", "Delete", danger: true)]
        default:
            break
        }
        if !actions.isEmpty { html += "<p>" + actions.joined(separator: " ") + "</p>" }

        let failures = (job?.failures ?? []) + [job?.error ?? state.error].compactMap { $0 }
        if !failures.isEmpty {
            // Numbered from the last attempt back: the oldest may have been dropped (at most 20 are kept).
            // The attempt number comes from the job's JSON: kept in range before any arithmetic.
            let attempt = min(max(job?.attempt ?? 0, failures.count), 1 << 40)
            let last = attempt - (state.state == "retry" && attempt > failures.count ? 1 : 0)
            let rows = failures.enumerated().reversed().map { index, failure in
                "<tr class=\"attempt\"><td class=\"n\">\(last - (failures.count - 1 - index))</td><td>\(HTML.time(failure.at))</td>"
                    + "<td class=\"err\"><b>\(HTML.escape(failure.type))</b></td><td class=\"err\">\(HTML.escape(failure.message))</td></tr>"
            }
            html += "<h2>Failed attempts</h2>" + HTML.table(["attempt", "failed", "error", "message"], numeric: [0], rows: rows, empty: "")
        }
        if let job, let args = job.args {
            html += "<h2>Arguments</h2><pre>\(render(args, indent: 0))</pre>"
            let command = "ferry enqueue \(shellQuote(job.type ?? "")) --args \(shellQuote(compact(args))) --queue \(shellQuote(job.queue))"
            html += "<h2>Enqueue a copy</h2><pre class=\"command\" tabindex=\"0\">\(HTML.escape(command))</pre>"
        } else if let raw = job?.raw {
            html += "<h2>Payload (not a valid job)</h2><pre>\(HTML.escape(String(raw.prefix(20_000))))</pre>"
        }
        if let result = state.result { html += "<h2>Result</h2><pre>\(render(result, indent: 0))</pre>" }
        return html
    }

    /// JSON pretty-printed, escaped, with long strings and large arrays folded.
    static func render(_ value: JSONValue, indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent + 1), closing = String(repeating: "  ", count: indent)
        switch value {
        case .object(let fields):
            guard !fields.isEmpty else { return "{}" }
            let items = fields.sorted { $0.key < $1.key }.map { "\(pad)\(HTML.escape(quoted($0.key))): \(render($0.value, indent: indent + 1))" }
            return "{\n" + items.joined(separator: ",\n") + "\n\(closing)}"
        case .array(let elements):
            guard !elements.isEmpty else { return "[]" }
            let shown = elements.prefix(20).map { "\(pad)\(render($0, indent: indent + 1))" }.joined(separator: ",\n")
            if elements.count > 20 {
                let rest = elements.dropFirst(20).map { "\(pad)\(render($0, indent: indent + 1))" }.joined(separator: ",\n")
                return "[\n\(shown),\n<details><summary>\(HTML.number(elements.count - 20)) more</summary>\(rest)</details>\(closing)]"
            }
            return "[\n\(shown)\n\(closing)]"
        case .string(let text) where text.count > 200:
            return "<details><summary>\(HTML.escape(quoted(String(text.prefix(120)))))… (\(HTML.number(text.count)) characters)</summary>\(HTML.escape(quoted(text)))</details>"
        default:
            return HTML.escape(compact(value))
        }
    }

    static func compact(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static func quoted(_ text: String) -> String { compact(.string(text)) }

    static func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    // MARK: Schedules, batches, limits

    static func schedules(_ entries: [ScheduleEntry]) -> String {
        let now = Date()
        let rows = entries.map { entry in
            "<tr><td>\(HTML.escape(entry.name))\(entry.enabled ? "" : " <span class=\"muted\">(disabled)</span>")</td>"
                + "<td><code>\(HTML.escape(entry.schedule.expression.source))</code></td><td>\(HTML.escape(entry.timeZoneName))</td>"
                + "<td>\(HTML.escape(entry.jobType))</td><td>\(HTML.time(entry.schedule.next(after: now)?.timeIntervalSince1970))</td></tr>"
        }
        return HTML.table(["entry", "cron", "zone", "job", "next"], rows: rows, empty: "No schedules loaded (schedules/*.yml).")
    }

    static func batches(_ batches: [BatchStatus]) -> String {
        let rows = batches.map { batch -> String in
            let state = batch.completedAt.map { "complete " + HTML.time($0) + (batch.callbacksEnqueued.isEmpty ? "" : "; " + HTML.escape(batch.callbacksEnqueued.joined(separator: ", ")) + " enqueued") }
                ?? (batch.sealed ? "running" : "being enqueued")
            return "<tr class=\"batch\"><td>\(HTML.escape(batch.id))</td><td>\(HTML.escape(batch.description))</td><td>\(HTML.escape(batch.queue))</td>"
                + "<td class=\"n\">\(HTML.number(batch.succeeded.addingReportingOverflow(batch.dead).partialValue)) of \(HTML.number(batch.total))</td><td class=\"n\">\(HTML.number(batch.pending))</td>"
                + "<td class=\"n\">\(HTML.number(batch.failed))</td><td class=\"n\(batch.dead > 0 ? " err" : "")\">\(HTML.number(batch.dead))</td><td>\(state)</td></tr>"
        }
        return HTML.table(["batch", "description", "queue", "done", "pending", "failed attempts", "dead", "state"], numeric: [3, 4, 5, 6], rows: rows,
                          empty: "No batches in the last week.")
    }

    static func limits(_ limits: [RateLimiterStatus]) -> String {
        var rows: [String] = []
        for limiter in limits {
            for budget in limiter.budgets.isEmpty ? [nil] : limiter.budgets.map({ Optional($0) }) {
                rows.append("<tr class=\"rate-limit\"><td>\(HTML.escape(limiter.type))</td><td>\(HTML.escape(limiter.limit.description))</td>"
                    + "<td>\(HTML.escape(budget?.key ?? "—"))</td><td class=\"n\">\(budget.map { HTML.number($0.available) } ?? "—")</td>"
                    + "<td class=\"n\">\(HTML.number(budget?.waiting ?? 0))</td><td>\(budget?.heldUntil.map { HTML.time($0) } ?? "")</td></tr>")
            }
        }
        return HTML.table(["type", "limit", "budget", "free now", "waiting", "held until"], numeric: [3, 4], rows: rows,
                          empty: "No rate-limited job types (rate: in jobs/<type>.yml).")
    }
}
