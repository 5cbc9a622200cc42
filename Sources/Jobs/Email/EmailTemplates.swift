public import FerryQueue
import Foundation
import Mustache
import Synchronization

/// Mail templates on disk, rendered with Mustache (swift-mustache).
///
/// A template is a folder `<directory>/<name>/` with `subject.mustache` and `text.mustache`
/// (required), `html.mustache` (optional: the mail becomes multipart/alternative) and
/// `list-unsubscribe.mustache` (optional: a URL, sent as `List-Unsubscribe` with one-click
/// `List-Unsubscribe-Post`). Each part may exist per locale, `subject.de.mustache`; the part in
/// the mail's locale is used, else the default locale's, else the plain one.
///
/// The HTML part escapes every variable (`{{name}}`); the subject, text and URL are plain text.
/// A variable used outside a section that the job does not give is an error, not an empty string.
public struct EmailTemplates: Sendable {
    public let directory: String
    public let defaultLocale: String

    public init(directory: String, defaultLocale: String = "en") {
        self.directory = directory
        self.defaultLocale = defaultLocale
    }

    /// What a template rendered to.
    public struct Rendered: Sendable, Equatable {
        public var subject: String
        public var text: String
        public var html: String?
        public var listUnsubscribe: String?
    }

    /// Why a template cannot be rendered: the job goes dead with this.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parsed templates by path; files are read once per worker process.
    private static let cache = Mutex<[String: MustacheTemplate]>([:])

    public func render(_ name: String, locale: String?, variables: JSONValue) throws(Failure) -> Rendered {
        guard Names.isValid(name), !name.hasPrefix(".") else {
            throw Failure(description: "'\(name.prefix(100))' is not a template name (letters, digits, '.', '_', '-')")
        }
        let folder = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: folder) else {
            throw Failure(description: "unknown template '\(name)': no folder \(folder)")
        }
        guard case .object(let fields) = variables else { throw Failure(description: "vars must be a JSON object") }
        let locales = [locale, defaultLocale].compactMap { $0 }.filter { Names.isValid($0) }
        let context = Self.mustacheValue(variables)
        func part(_ part: String, html: Bool = false) throws(Failure) -> String? {
            let candidates = locales.map { "\(folder)/\(part).\($0).mustache" } + ["\(folder)/\(part).mustache"]
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
            let template = try load(path, html: html)
            try Self.checkVariables(in: template.source, given: fields, template: name, part: part)
            return template.compiled.render(context)
        }
        guard let subject = try part("subject") else { throw Failure(description: "template '\(name)' has no subject.mustache") }
        guard let text = try part("text") else { throw Failure(description: "template '\(name)' has no text.mustache") }
        let unsubscribe = try part("list-unsubscribe")?.trimmingCharacters(in: .whitespacesAndNewlines)
        return Rendered(
            subject: subject.trimmingCharacters(in: .whitespacesAndNewlines), text: text, html: try part("html", html: true),
            listUnsubscribe: unsubscribe?.isEmpty == false ? unsubscribe : nil
        )
    }

    private func load(_ path: String, html: Bool) throws(Failure) -> (source: String, compiled: MustacheTemplate) {
        let source: String
        do { source = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Failure(description: "cannot read \(path): \(error.localizedDescription)")
        }
        if let cached = Self.cache.withLock({ $0[path] }) { return (source, cached) }
        do {
            // Plain-text parts must not be HTML-escaped.
            let compiled = try MustacheTemplate(string: html ? source : "{{% CONTENT_TYPE: TEXT}}" + source)
            Self.cache.withLock { $0[path] = compiled }
            return (source, compiled)
        } catch {
            throw Failure(description: "\(path) is not a valid Mustache template: \(error)")
        }
    }

    /// Every variable a template uses outside sections must be given: a typo or a forgotten
    /// variable is an error rather than a blank in a mail sent to a customer.
    static func checkVariables(in source: String, given: [String: JSONValue], template: String, part: String) throws(Failure) {
        var depth = 0
        var index = source.startIndex
        while let open = source.range(of: "{{", range: index..<source.endIndex) {
            guard let close = source.range(of: "}}", range: open.upperBound..<source.endIndex) else { break }
            index = close.upperBound
            var tag = source[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("{") { tag.removeFirst() }
            guard let sigil = tag.first else { continue }
            switch sigil {
            case "#", "^": depth += 1; continue
            case "/": depth = max(0, depth - 1); continue
            case "!", ">", "%", "=", "$", "<": continue
            case "&": tag.removeFirst()
            default: break
            }
            let name = tag.trimmingCharacters(in: .whitespaces)
            guard depth == 0, name != ".", let root = name.split(separator: ".").first.map(String.init) else { continue }
            if given[root] == nil {
                throw Failure(description: "template '\(template)' (\(part)) uses the variable '\(name)', which the job did not give")
            }
        }
    }

    /// JSON values as the Foundation values Mustache looks into.
    static func mustacheValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag
        case .int(let number): return number
        case .double(let number): return number
        case .string(let text): return text
        case .array(let items): return items.map(mustacheValue)
        case .object(let fields): return fields.mapValues(mustacheValue)
        }
    }
}
