import Foundation
import Hummingbird

/// Records kept outside Redis — a job family's table, say — that the admin API serves beside the
/// queues, so that the admin server knows nothing of them.
///
/// `GET /api/v1/<name>?limit=N&before=ID&…` lists (`{"<key>": […]}`, N from 1 to 1,000, default
/// 50; `before`, for a resource that pages by id, the records older than that id; the other query
/// parameters handed to the resource); `GET /api/v1/<name>/{id}` shows one, or
/// answers 404. The closures block (they may query PostgreSQL) and run off the server's event
/// loops. Dates are encoded as ISO 8601 text.
public struct AdminResource: Sendable {
    /// The path under `/api/v1`, e.g. `imports` or `claude/usage`.
    public let name: String
    /// The key of the list in its response (the last segment of `name` unless given).
    public let key: String
    /// The field of its records that holds the whole-number id they are listed by, newest
    /// first, honouring ``Query/before`` (the dashboard then pages them); nil when not paged.
    public let pagedBy: String?
    let list: @Sendable (Query) throws -> any Encodable & Sendable
    let show: (@Sendable (_ id: String) throws -> (any Encodable & Sendable)?)?

    /// What a list request asked for.
    public struct Query: Sendable {
        public var limit: Int
        /// Only records whose id is below this one (keyset paging); nil for the newest.
        public var before: Int64?
        /// The request's other query parameters, as sent (the resource checks them).
        public var parameters: [String: String]
    }

    /// - Parameters:
    ///   - list: the records a list request asks for.
    ///   - show: the record with this id (as written in the URL), or nil; without it, no `/{id}` route.
    ///   - pagedBy: the field holding the id by which `list` returns records newest first, honouring ``Query/before``.
    public init<Item: Encodable & Sendable, Detail: Encodable & Sendable>(
        name: String, key: String? = nil, pagedBy: String? = nil,
        list: @escaping @Sendable (Query) throws -> [Item], show: (@Sendable (_ id: String) throws -> Detail?)?
    ) {
        self.name = name
        self.key = key ?? String(name.split(separator: "/").last ?? Substring(name))
        self.pagedBy = pagedBy
        self.list = { try list($0) }
        if let show {
            self.show = { @Sendable id in try show(id) }
        } else {
            self.show = nil
        }
    }

    /// What a resource's closures throw to give the caller a precise answer; any other error is
    /// logged and answered with a bare 500.
    public enum Failure: Error, Sendable {
        /// 400: the id or a parameter is malformed.
        case badRequest(String)
        /// 503: what the records live in is not configured or not answering.
        case unavailable(String)
        /// An answer in a contract of its own (another product's error JSON, say): this status
        /// and this JSON body, as they are.
        case reply(status: Int, json: [UInt8])
    }
}

/// An operation that lives outside the admin server — a job family's synchronous check, say —
/// served as `POST /api/v1/<name>` with a JSON body (at most the server's body limit), or as
/// `GET /api/v1/<name>` with none. The closure blocks if it must and runs off the server's event
/// loops; it throws ``AdminResource/Failure`` for a precise 400 or 503 (or a reply of its own).
public struct AdminAction: Sendable {
    /// The path under `/api/v1`, e.g. `anonymize`.
    public let name: String
    /// `POST` (the default) or `GET`.
    public let method: Method
    let perform: @Sendable (_ body: [UInt8]) throws -> any Encodable & Sendable

    public enum Method: Sendable { case get, post }

    public init<Answer: Encodable & Sendable>(name: String, method: Method = .post, perform: @escaping @Sendable (_ body: [UInt8]) throws -> Answer) {
        self.name = name
        self.method = method
        self.perform = { try perform($0) }
    }
}

/// Serves the ``AdminResource``s and ``AdminAction``s under `/api/v1`.
struct ResourcesController: Sendable {
    let server: AdminServer

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        addResources(to: api)
        addActions(to: api)
    }

    /// `GET <name>` and `GET <name>/{id}` per resource.
    private func addResources(to api: RouterGroup<BasicRequestContext>) {
        for resource in server.resources {
            api.get(RouterPath(resource.name)) { request, _ in
                var parameters: [String: String] = [:]
                for (name, value) in request.uri.queryParameters where name != "limit" && name != "before" { parameters[String(name)] = String(value) }
                let query = AdminResource.Query(
                    limit: try Self.limit(request), before: try Self.before(request.uri.queryParameters["before"].map(String.init), of: resource), parameters: parameters)
                let items = try await run { try resource.list(query) }
                return try Self.respond(ListBody(name: resource.key, items: items))
            }
            guard let show = resource.show else { continue }
            api.get(RouterPath("\(resource.name)/:id")) { _, context in
                let id = try context.parameters.require("id")
                guard let found = try await run({ try show(id) }) else {
                    throw AdminError.notFound("no \(resource.name.dropLast(resource.name.hasSuffix("s") ? 1 : 0)) \(id.prefix(80))")
                }
                return try Self.respond(AnyEncodable(found))
            }
        }
    }

    /// `POST <name>` (or `GET`) per action.
    private func addActions(to api: RouterGroup<BasicRequestContext>) {
        for action in server.actions {
            switch action.method {
            case .post:
                api.post(RouterPath(action.name)) { request, _ in
                    let body = try await server.body(of: request)
                    return try await reply { try await run { try action.perform(body) } }
                }
            case .get:
                api.get(RouterPath(action.name)) { _, _ in
                    try await reply { try await run { try action.perform([]) } }
                }
            }
        }
    }

    /// The action's answer as JSON, or the reply it chose to fail with.
    private func reply(_ answer: () async throws -> any Encodable & Sendable) async throws -> Response {
        do {
            return try Self.respond(AnyEncodable(try await answer()))
        } catch AdminResource.Failure.reply(let status, let json) {
            return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
    }

    private func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        do {
            return try await server.blocking.run(body)
        } catch let failure as AdminResource.Failure {
            switch failure {
            case .badRequest(let message): throw AdminError.badRequest(message)
            case .unavailable(let message): throw AdminError.unavailable(message)
            case .reply: throw failure
            }
        }
    }

    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters["limit"] else { return 50 }
        guard let limit = Int(text), (1...1000).contains(limit) else { throw AdminError.badRequest("limit must be a whole number from 1 to 1000") }
        return limit
    }

    /// `before=ID`: a whole number from 1 up, for a resource that pages by id.
    static func before(_ text: String?, of resource: AdminResource) throws -> Int64? {
        guard let text else { return nil }
        guard resource.pagedBy != nil else { throw AdminError.badRequest("\(resource.name) is not paged by id: before is not accepted") }
        guard let id = Int64(text), id > 0 else { throw AdminError.badRequest("before must be a record id, a whole number from 1 to \(Int64.max)") }
        return id
    }

    static func respond(_ value: some Encodable) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"<name>": [...]}`.
    struct ListBody: Encodable {
        let name: String
        let items: any Encodable & Sendable

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(AnyEncodable(items), forKey: Key(stringValue: name))
        }
    }

    struct AnyEncodable: Encodable {
        let value: any Encodable
        init(_ value: any Encodable) { self.value = value }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }
}
