// The messages of ``FerryHTTPClient``, named inside it so that they never collide with
// swift-http-types (re-exported by Hummingbird) or AsyncHTTPClient in a program importing both.
extension FerryHTTPClient {
    /// HTTP header fields: ordered, case-insensitive on lookup, repeatable.
    public struct Headers: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
        public private(set) var fields: [Field]

        public struct Field: Sendable, Equatable {
            public var name: String
            public var value: String
        }

        public init(_ fields: [(String, String)] = []) {
            self.fields = fields.map { Field(name: $0.0, value: $0.1) }
        }

        public init(dictionaryLiteral elements: (String, String)...) {
            self.init(elements)
        }

        /// The first value of the header `name`, ignoring case.
        public subscript(name: String) -> String? {
            let lowered = name.lowercased()
            return fields.first { $0.name.lowercased() == lowered }?.value
        }

        /// Adds a field, keeping any existing ones with the same name.
        public mutating func add(name: String, value: String) {
            fields.append(Field(name: name, value: value))
        }

        /// Replaces every field named `name` with one holding `value`.
        public mutating func replaceOrAdd(name: String, value: String) {
            let lowered = name.lowercased()
            fields.removeAll { $0.name.lowercased() == lowered }
            fields.append(Field(name: name, value: value))
        }

        public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
    }

    /// An HTTP request to send with ``FerryHTTPClient``.
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: Headers
        public var body: [UInt8]?
        /// The whole exchange must finish within this time.
        public var timeout: Duration
        public var connectTimeout: Duration

        public init(
            method: String = "GET",
            url: String,
            headers: Headers = [:],
            body: [UInt8]? = nil,
            timeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(10)
        ) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeout = timeout
            self.connectTimeout = connectTimeout
        }

        /// A request whose body is `text` in UTF-8.
        public init(method: String, url: String, headers: Headers = [:], text: String, timeout: Duration = .seconds(30)) {
            self.init(method: method, url: url, headers: headers, body: Array(text.utf8), timeout: timeout)
        }
    }

    /// The response to an ``Request``. Any status, 4xx and 5xx included, is a response, not an error.
    public struct Response: Sendable {
        public var status: Int
        public var headers: Headers
        public var body: [UInt8]

        /// The body decoded as UTF-8.
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// 200–299.
        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// The status line and headers of a response whose body is streamed.
    public struct ResponseHead: Sendable, Equatable {
        public var status: Int
        public var headers: Headers

        public init(status: Int, headers: Headers) {
            self.status = status
            self.headers = headers
        }

        /// 200–299.
        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// What a streaming receiver wants after a block of the body.
    public enum StreamAction: Sendable {
        /// Read the next block.
        case `continue`
        /// End the transfer now; not an error.
        case stop
    }
}
