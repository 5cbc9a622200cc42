import FerryQueue
import Foundation

/// The dashboard's page frame and the pieces every page uses: navigation, tables, times, numbers,
/// buttons, pagers and filter forms. Server-rendered HTML with inline CSS; the only script turns
/// UTC times into the viewer's zone and pauses live refresh — every page works without it.
enum HTML {
    /// The sections of the navigation: path, title.
    static let sections: [(path: String, title: String)] = [
        ("/", "Overview"), ("/queues", "Queues"), ("/busy", "Busy"), ("/retries", "Retries"), ("/scheduled", "Scheduled"),
        ("/dead", "Dead"), ("/schedules", "Schedules"), ("/batches", "Batches"), ("/limits", "Rate limits"), ("/records", "Records"),
    ]

    static let style = """
        :root{color-scheme:light dark;--fg:#1d2330;--bg:#fafbfc;--card:#fff;--line:#e3e6ea;--head:#f0f2f5;--muted:#6b7280;--err:#a0281e;--ok:#1f7a3a;--link:#2457c5;--accent:#2f6fdb}
        @media (prefers-color-scheme:dark){:root{--fg:#e6e8ec;--bg:#14171c;--card:#1c2027;--line:#2e343e;--head:#232833;--muted:#9aa3af;--err:#f28b82;--ok:#81c995;--link:#8ab4f8;--accent:#8ab4f8}}
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem 1rem;padding:.6rem 1.2rem;background:var(--card);border-bottom:1px solid var(--line)}
        header b{font-size:1.1rem;margin-right:.5rem}nav{display:flex;flex-wrap:wrap;gap:.2rem}
        nav a{padding:.25rem .55rem;border-radius:4px;text-decoration:none;color:var(--fg)}nav a[aria-current=page]{background:var(--accent);color:var(--bg)}
        nav a .count{color:var(--muted);font-size:.85em;margin-left:.25rem}nav a[aria-current=page] .count{color:inherit}
        main{padding:1rem 1.2rem;max-width:1400px}h1{font-size:1.3rem;margin:.2rem 0 .8rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
        a{color:var(--link)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
        .scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;background:var(--card)}
        th,td{padding:.35rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        th{background:var(--head);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .err{color:var(--err)}.ok{color:var(--ok)}.muted{color:var(--muted)}tr.failing td{background:color-mix(in srgb,var(--err) 12%,transparent)}
        form{display:inline}button,input,select{font:inherit;color:inherit;background:var(--card);padding:.2rem .55rem;border:1px solid var(--line);border-radius:4px}
        button{cursor:pointer}button.danger{border-color:var(--err);color:var(--err)}
        .filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0 1rem}.filters label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}
        .pager{display:flex;gap:1rem;align-items:center;margin:.6rem 0}.totals{display:flex;flex-wrap:wrap;gap:.4rem 1.6rem;margin:.2rem 0 1rem}
        pre{background:var(--card);border:1px solid var(--line);padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
        details summary{cursor:pointer;color:var(--link)}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:var(--muted)}dd{margin:0}
        svg text{fill:var(--muted);font-size:11px}svg .grid{stroke:var(--line)}svg .processed{stroke:var(--accent);fill:none;stroke-width:2}svg .failed{stroke:var(--err);fill:none;stroke-width:2}
        .legend span{margin-right:1rem}.live{margin-left:auto;font-size:.9em}
        @media (max-width:700px){main{padding:.6rem}th,td{padding:.3rem .35rem}header{padding:.5rem}}
        """

    /// Turns `<time datetime>` into the viewer's time zone (the UTC time stays in the title);
    /// served as `/ui/app.js` (the Content-Security-Policy allows scripts from the server only).
    static let script = """
        for(const t of document.querySelectorAll('time[datetime]')){const d=new Date(t.getAttribute('datetime'));if(!isNaN(d)){t.title=t.textContent;t.textContent=d.toLocaleString();}}
        """

    /// A whole page: navigation (the current section marked), then `body`. `refresh` reloads the
    /// page every so many seconds (the overview's live mode).
    static func page(title: String, current: String, counts: [String: Int] = [:], refresh: Int? = nil, liveToggle: String? = nil, _ body: String) -> String {
        var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escape(title == "Overview" ? "Ferry" : "\(title) · Ferry"))</title>"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        if let refresh { html += "<meta http-equiv=\"refresh\" content=\"\(refresh)\">" }
        html += "<style>\(style)</style></head><body><header><b>Ferry</b><nav aria-label=\"sections\">"
        for section in sections {
            let marked = section.path == current ? " aria-current=\"page\"" : ""
            let count = counts[section.path].map { "<span class=\"count\">\(number($0))</span>" } ?? ""
            html += "<a href=\"\(section.path)\"\(marked)>\(escape(section.title))\(count)</a>"
        }
        html += "</nav>"
        if let liveToggle { html += "<span class=\"live\">\(liveToggle)</span>" }
        html += "</header><main><h1>\(escape(title))</h1>\(body)</main><script src=\"/ui/app.js\"></script></body></html>"
        return html
    }

    /// HTML-escapes text: every value on a page passes through here.
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

    /// A whole number with thousands separators.
    static func number(_ value: Int) -> String { value.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }

    /// A time (Unix seconds) shown in UTC, turned into the viewer's zone by the script; the UTC
    /// time stays in the tooltip.
    static func time(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, abs(seconds) < 1e11 else { return "<span class=\"muted\">—</span>" }
        let date = Date(timeIntervalSince1970: seconds)
        let iso = date.formatted(.iso8601)
        let shown = iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
        return "<time datetime=\"\(iso)\" title=\"\(iso)\">\(escape(shown))</time>"
    }

    /// A duration in whole seconds; "—" for a value from Redis that is not a sane number.
    static func seconds(_ value: Double) -> String {
        guard value.isFinite, value < 1e12 else { return "—" }
        return number(Int(max(0, value))) + " s"
    }

    /// A form button that posts to `action` (an action of `/ui/…`).
    static func button(_ action: String, _ label: String, danger: Bool = false) -> String {
        "<form method=\"post\" action=\"\(escape(action))\"><button type=\"submit\"\(danger ? " class=\"danger\"" : "")>\(escape(label))</button></form>"
    }

    /// One path component, percent-encoded.
    static func path(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    /// A query string from `parameters` (nil values left out).
    static func query(_ parameters: [(String, String?)]) -> String {
        let items = parameters.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        guard !items.isEmpty else { return "" }
        var components = URLComponents()
        components.queryItems = items
        return "?" + (components.percentEncodedQuery ?? "")
    }

    /// Previous / next links and where this page stands.
    static func pager(base: String, filters: [(String, String?)], page: Int, perPage: Int, total: Int) -> String {
        let pages = max(1, (total + perPage - 1) / perPage)
        var html = "<div class=\"pager\">"
        html += page > 1 ? "<a rel=\"prev\" href=\"\(escape(base + query(filters + [("page", String(page - 1))])))\">← newer</a>" : "<span class=\"muted\">← newer</span>"
        html += "<span>page \(number(page)) of \(number(pages)) · \(number(total)) in all</span>"
        html += page < pages ? "<a rel=\"next\" href=\"\(escape(base + query(filters + [("page", String(page + 1))])))\">older →</a>" : "<span class=\"muted\">older →</span>"
        return html + "</div>"
    }

    /// A table: header cells (`n` marks numeric columns) and rows of ready HTML cells.
    static func table(_ header: [String], numeric: Set<Int> = [], rows: [String], empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(escape(empty))</p>" }
        let head = header.enumerated().map { "<th\(numeric.contains($0) ? " class=\"n\"" : "")>\(escape($1))</th>" }.joined()
        return "<div class=\"scroll\"><table><thead><tr>\(head)</tr></thead><tbody>\(rows.joined())</tbody></table></div>"
    }

    /// A link to a job's page.
    static func jobLink(_ id: String) -> String { "<a href=\"/jobs/\(escape(path(id)))\">\(escape(id))</a>" }
}
