import FerryQueue
import Foundation

// The values the templates show. Everything is formatted here, as text; the templates escape it.
// Optional fields are looked up with a leading dot (`{{#.field}}`) so that a missing value is
// never taken from an enclosing one.

/// How the dashboard writes numbers, durations, paths and query strings.
enum Format {
    /// A whole number with thousands separators.
    static func number(_ value: Int) -> String { value.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }

    /// A count with its noun, singular or plural: "1 dead job", "5 dead jobs".
    static func count(_ value: Int, _ noun: String, plural: String? = nil) -> String {
        "\(number(value)) \(value == 1 ? noun : plural ?? noun + "s")"
    }

    /// A duration in whole seconds; "—" for a value from Redis that is not a sane number.
    static func seconds(_ value: Double) -> String {
        guard value.isFinite, value < 1e12 else { return "—" }
        return number(Int(max(0, value))) + " s"
    }

    /// One path component, percent-encoded.
    static func path(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    /// A query string from `parameters` (nil values left out), with its `?`; empty when none.
    static func query(_ parameters: [(String, String?)]) -> String {
        let items = parameters.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        guard !items.isEmpty else { return "" }
        var components = URLComponents()
        components.queryItems = items
        return "?" + (components.percentEncodedQuery ?? "")
    }

    /// The link to a job's page.
    static func jobHref(_ id: String) -> String { "/jobs/" + path(id) }
}

/// A time shown in UTC; the page's script turns it into the viewer's zone and keeps the UTC time
/// in the tooltip. No time (or one from Redis that is not sane) shows as "—".
struct TimeView {
    let iso: String?
    let text: String

    init(_ seconds: Double?) {
        guard let seconds, seconds.isFinite, abs(seconds) < 1e11 else {
            iso = nil
            text = ""
            return
        }
        let iso = Date(timeIntervalSince1970: seconds).formatted(.iso8601)
        self.iso = iso
        text = iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }
}

/// A button that posts a form to one of the `/ui/…` actions.
struct ButtonView {
    let action: String
    let label: String
    var danger = false

    static func retry(_ id: String) -> ButtonView { ButtonView(action: "/ui/dead/\(Format.path(id))/retry", label: "Retry") }
    static func deleteDead(_ id: String) -> ButtonView { ButtonView(action: "/ui/dead/\(Format.path(id))/delete", label: "Delete", danger: true) }
    static func runNow(_ id: String) -> ButtonView { ButtonView(action: "/ui/scheduled/\(Format.path(id))/run", label: "Run now") }
    static func kill(_ id: String) -> ButtonView { ButtonView(action: "/ui/scheduled/\(Format.path(id))/kill", label: "Kill", danger: true) }
    static func deleteScheduled(_ id: String) -> ButtonView { ButtonView(action: "/ui/scheduled/\(Format.path(id))/delete", label: "Delete", danger: true) }
}

/// Newer / older links and where a page stands.
struct PagerView {
    let newer: String?
    let older: String?
    let page: String
    let pages: String
    let total: String

    init(base: String, filters: [(String, String?)], page: Int, perPage: Int, total: Int) {
        let pages = max(1, (total + perPage - 1) / perPage)
        newer = page > 1 ? base + Format.query(filters + [("page", String(page - 1))]) : nil
        older = page < pages ? base + Format.query(filters + [("page", String(page + 1))]) : nil
        self.page = Format.number(page)
        self.pages = Format.number(pages)
        self.total = Format.number(total)
    }
}

/// A running job's progress as its worker last reported it.
struct ProgressView {
    let percent: Int?
    let done: String
    let message: String?

    init(_ progress: WorkerInfo.BusyJob.Progress) {
        percent = progress.percent
        done = Format.number(progress.done)
        message = progress.message
    }
}

/// JSON pretty-printed as a tree of lines for a `<pre>`, with long strings and long arrays folded
/// into `<details>` (rendered by the recursive `json` template).
struct JSONNode {
    /// Indentation, the key, and the value's opening (`{`, `[`) or the scalar itself.
    let head: String
    /// A long string, folded: its start, and the whole.
    let long: Fold?
    let children: [JSONNode]
    /// Array elements beyond the first `shownElements`, folded.
    let more: Fold?
    /// The closing bracket, the comma and the end of the line.
    let tail: String

    struct Fold {
        let summary: String
        var full: String = ""
        var nodes: [JSONNode] = []
    }

    static let shownElements = 20
    static let longString = 200

    init(_ value: JSONValue, key: String? = nil, indent: Int = 0, comma: Bool = false) {
        let pad = String(repeating: "  ", count: indent)
        let prefix = pad + (key.map { Self.compact(.string($0)) + ": " } ?? "")
        let end = (comma ? "," : "") + (indent == 0 ? "" : "\n")
        var long: Fold?, children: [JSONNode] = [], more: Fold?
        switch value {
        case .object(let fields) where !fields.isEmpty:
            let sorted = fields.sorted { $0.key < $1.key }
            children = sorted.enumerated().map { index, field in
                JSONNode(field.value, key: field.key, indent: indent + 1, comma: index < sorted.count - 1)
            }
            head = prefix + "{\n"
            tail = pad + "}" + end
        case .array(let elements) where !elements.isEmpty:
            let nodes = elements.enumerated().map { index, element in JSONNode(element, indent: indent + 1, comma: index < elements.count - 1) }
            children = Array(nodes.prefix(Self.shownElements))
            if nodes.count > Self.shownElements {
                more = Fold(summary: "\(Format.number(nodes.count - Self.shownElements)) more", nodes: Array(nodes.dropFirst(Self.shownElements)))
            }
            head = prefix + "[\n"
            tail = pad + "]" + end
        case .string(let text) where text.count > Self.longString:
            long = Fold(summary: Self.compact(.string(String(text.prefix(120)))) + "… (\(Format.number(text.count)) characters)", full: Self.compact(.string(text)))
            head = prefix
            tail = end
        default:
            head = prefix + Self.compact(value)
            tail = end
        }
        self.long = long
        self.children = children
        self.more = more
    }

    /// One line of JSON, keys sorted, slashes as they are.
    static func compact(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }
}
