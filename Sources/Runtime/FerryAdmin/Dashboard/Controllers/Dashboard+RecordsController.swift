import FerryQueue
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /records`: the newest records of every ``AdminResource`` (imports, Claude usage…) kept
    /// outside Redis; `?resource=NAME&before=ID`, one resource's older ones.
    struct RecordsController {
        let server: AdminServer

        /// Records shown per table.
        static let perPage = 20

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/records", use: records)
        }

        @Sendable func records(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let counts = try await server.blocking.withRedis { [server] in try PageCounts.read(server, on: $0) }
            var shown = server.resources
            var before: Int64?
            if let name = request.uri.queryParameters["resource"].map(String.init) {
                guard let resource = shown.first(where: { $0.name == name }) else { throw AdminError.notFound("no records named \(name.prefix(80))") }
                shown = [resource]
                before = try ResourcesController.before(request.uri.queryParameters["before"].map(String.init), of: resource)
            }
            var tables: [RecordsView.Table] = []
            for resource in shown {
                tables.append(RecordsView.Table(resource, before: before, rows: await newest(of: resource, before: before)))
            }
            return try DashboardTemplates.page(PageFrame(title: "Records", current: "/records", counts: counts, notice: DashboardNotice.message(for: request)), "records", RecordsView(tables: tables))
        }

        /// A resource's newest records as JSON objects (below `before`, when given), or why there are none.
        func newest(of resource: AdminResource, before: Int64?) async -> Result<[JSONValue], AdminResource.Failure> {
            do {
                return .success(try await server.blocking.run { () throws -> [JSONValue] in
                    let items = try resource.list(AdminResource.Query(limit: Self.perPage, before: before, parameters: [:]))
                    let data = try ResourcesController.encoder.encode(ResourcesController.AnyEncodable(items))
                    return try JSONDecoder().decode(JSONValue.self, from: data).elements ?? []
                })
            } catch let failure as AdminResource.Failure {
                return .failure(failure)
            } catch {
                return .failure(.unavailable("could not be read; see the admin server's log"))
            }
        }
    }
}

struct RecordsView {
    /// A resource's records: the scalar fields of each (at most 10 columns), or why none show.
    struct Table {
        struct Cell {
            let text: String
            var cellClass: String? = nil
            /// A link to the job the record belongs to.
            var href: String? = nil
            /// A time, shown as every page shows times.
            var time: TimeView? = nil
        }

        struct Row {
            let cells: [Cell]
        }

        /// Links to the newest records and to older ones, under a table paged by id.
        struct Links {
            let newest: String?
            let older: String?
            /// Both links show, with a separator between them.
            let both: Bool

            init(newest: String?, older: String?) {
                self.newest = newest
                self.older = older
                both = newest != nil && older != nil
            }
        }

        let name: String
        /// The resource's name as a heading: "claude/usage" → "Claude usage".
        let title: String
        let anchor: String
        let message: String?
        let columns: [String]
        let rows: [Row]
        let links: Links?

        init(_ resource: AdminResource, before: Int64?, rows result: Result<[JSONValue], AdminResource.Failure>) {
            name = resource.name
            let words = resource.name.replacingOccurrences(of: "/", with: " ").replacingOccurrences(of: "_", with: " ")
            title = words.prefix(1).uppercased() + words.dropFirst()
            anchor = resource.name.replacingOccurrences(of: "/", with: "-")
            var records: [JSONValue] = []
            switch result {
            case .failure(.unavailable(let reason)), .failure(.badRequest(let reason)): message = reason
            case .failure(.reply(let status, _)): message = "The records could not be read (HTTP \(status))."
            case .success(let found) where found.isEmpty: message = before == nil ? "None yet." : "No older records."
            case .success(let found):
                message = nil
                records = found
            }
            let columns = (records.first?.object ?? [:]).filter { field in
                switch field.value {
                case .object, .array: false
                default: true
                }
            }.keys.sorted { (Self.columnRank($0), $0) < (Self.columnRank($1), $1) }.prefix(10)
            self.columns = columns.map { $0.replacingOccurrences(of: "_", with: " ") }
            self.rows = records.map { record in
                Row(cells: columns.map { column in
                    switch record[column] {
                    case .int(let number)? where column == "job_id": Cell(text: "\(number)", href: Format.jobHref("\(number)"))
                    case .int(let number)?: Cell(text: Format.number(Int(clamping: number)), cellClass: "n")
                    case .double(let number)?: Cell(text: number.formatted(), cellClass: "n")
                    case .string(let text)? where column == "job_id": Cell(text: String(text.prefix(120)), href: Format.jobHref(text))
                    case .string(let text)?: Self.time(text).map { Cell(text: text, time: $0) } ?? Cell(text: String(text.prefix(120)))
                    case .bool(let flag)?: Cell(text: "\(flag)")
                    default: Cell(text: "—", cellClass: "muted")
                    }
                })
            }
            // "Newest" when older records are shown; "older" when the page is full.
            let name = resource.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            var older: String?
            if let field = resource.pagedBy, records.count == Dashboard.RecordsController.perPage, case .int(let last)? = records.last?[field] {
                older = "/records?resource=\(name)&before=\(last)"
            }
            let newest = resource.pagedBy != nil && before != nil ? "/records?resource=\(name)" : nil
            links = newest == nil && older == nil ? nil : Links(newest: newest, older: older)
        }

        /// A time written as ISO 8601 (how records encode dates), else nil.
        static func time(_ text: String) -> TimeView? {
            guard (20...35).contains(text.utf8.count), text.first?.isNumber == true, text.contains("T") else { return nil }
            let date = (try? Date(text, strategy: .iso8601)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            return date.map { TimeView($0.timeIntervalSince1970) }
        }

        /// Names that identify a record come first; the others follow in alphabetical order.
        static func columnRank(_ name: String) -> Int {
            ["id", "run_id", "key", "status", "source", "ref", "model", "profile", "user_id", "calls", "accepted", "rows", "cost_usd"].firstIndex(of: name) ?? 100
        }
    }

    let tables: [Table]
}
