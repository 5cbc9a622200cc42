public import FerryHTTP
import FerryQueue
import FerrySupport
import Foundation

/// Anthropic's Messages API (`/v1/messages`, `/v1/messages/batches`) over Ferry's HTTP client.
///
/// Configured from `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`)
/// and `ANTHROPIC_VERSION` (default `2023-06-01`). The key goes into the `x-api-key` header and
/// nowhere else: not into descriptions, errors or logs.
public struct MessagesAPI: Sendable, CustomStringConvertible {
    public let baseURL: String
    public let version: String
    private let apiKey: String
    let http: FerryHTTPClient

    public init(apiKey: String, baseURL: String = "https://api.anthropic.com", version: String = "2023-06-01", http: FerryHTTPClient) {
        self.apiKey = apiKey
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.version = version
        self.http = http
    }

    /// From the environment; nil without `ANTHROPIC_API_KEY`.
    public init?(environment: [String: String], http: FerryHTTPClient) {
        guard let key = environment["ANTHROPIC_API_KEY"], !key.isEmpty else { return nil }
        self.init(
            apiKey: key, baseURL: environment["ANTHROPIC_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.anthropic.com",
            version: environment["ANTHROPIC_VERSION"].flatMap { $0.isEmpty ? nil : $0 } ?? "2023-06-01", http: http
        )
    }

    public var description: String { "MessagesAPI(\(URLRedaction.redact(baseURL)), version \(version), key ***)" }

    private var headers: FerryHTTPClient.Headers {
        ["x-api-key": apiKey, "anthropic-version": version, "content-type": "application/json", "accept": "application/json"]
    }

    /// `POST <base><path>` with a JSON body; any status is returned.
    func post(_ path: String, body: [UInt8], timeout: Duration) throws(FerryHTTPError) -> FerryHTTPClient.Response {
        try http.execute(FerryHTTPClient.Request(method: "POST", url: baseURL + path, headers: headers, body: body, timeout: timeout))
    }

    /// `GET <base><path>`; any status is returned.
    func get(_ path: String, timeout: Duration) throws(FerryHTTPError) -> FerryHTTPClient.Response {
        try http.execute(FerryHTTPClient.Request(url: baseURL + path, headers: headers, timeout: timeout))
    }

    /// Streams the body of `url` (a batch's results file), with the key, to `receive`.
    func stream(_ url: String, timeout: Duration, receive: (FerryHTTPClient.ResponseHead, UnsafeRawBufferPointer) throws -> FerryHTTPClient.StreamAction) throws -> FerryHTTPClient.ResponseHead {
        try http.stream(FerryHTTPClient.Request(url: url, headers: headers, timeout: timeout), receive: receive)
    }
}

/// Why a call to the Messages API did not produce an answer, sorted by what to do about it.
enum ClaudeAPIError: Error, CustomStringConvertible {
    /// 429: hold the model's budget until then; no attempt spent.
    case rateLimited(retryAfter: Duration, message: String)
    /// 529, 5xx, 408, a broken or late connection, a reply that is not a Message: try again later.
    case transient(String)
    /// 400, 404, 413, 422…: the request will never succeed as it is.
    case invalidRequest(status: Int, type: String, message: String)
    /// 401 or 403: the key is wrong or lacks permission.
    case authentication(status: Int, message: String)

    var description: String {
        switch self {
        case .rateLimited(let after, let message): return "rate limited by the API for \(after): \(message)"
        case .transient(let reason): return reason
        case .invalidRequest(let status, let type, let message): return "the API refused the request (HTTP \(status) \(type)): \(message)"
        case .authentication(let status, let message):
            return "the API refused the key (HTTP \(status)): \(message); check ANTHROPIC_API_KEY (the key is never shown)"
        }
    }

    /// The error of a non-2xx response, from its `{"type": "error", "error": {"type", "message"}}` body.
    static func from(_ response: FerryHTTPClient.Response) -> ClaudeAPIError {
        let body = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        let type = body?["error"]?["type"]?.string ?? "error"
        let message = String((body?["error"]?["message"]?.string ?? String(decoding: response.body.prefix(200), as: UTF8.self)).prefix(500))
        switch response.status {
        case 429:
            return .rateLimited(retryAfter: retryAfter(response.headers["retry-after"]), message: message)
        case 401, 403:
            return .authentication(status: response.status, message: message)
        case 408, 409, 425, 500...599:
            return .transient("the API answered HTTP \(response.status) \(type): \(message)")
        default:
            return .invalidRequest(status: response.status, type: type, message: message)
        }
    }

    /// `retry-after` in seconds (whole or decimal), within a day; 5 s when absent or unreadable.
    static func retryAfter(_ header: String?) -> Duration {
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)), seconds.isFinite else { return .seconds(5) }
        return .milliseconds(Int64((min(max(seconds, 0), 86_400) * 1000).rounded(.up)))
    }
}

/// The `anthropic-ratelimit-<measure>-remaining` and `-limit` headers of a response, by measure
/// name (`requests`, `input_tokens`, `output_tokens`): what the API has left, and the limit it
/// announces for the organisation.
func rateLimitHeaders(_ headers: FerryHTTPClient.Headers) -> [(measure: String, remaining: Int64?, limit: Int64?)] {
    var found: [(String, Int64?, Int64?)] = []
    for (header, measure) in [("requests", "requests"), ("input-tokens", "input_tokens"), ("output-tokens", "output_tokens")] {
        // Numbers from outside: whole, not negative, at most 10^12 (else not read).
        func number(_ name: String) -> Int64? {
            headers["anthropic-ratelimit-\(header)-\(name)"].flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }.flatMap { (0...1_000_000_000_000).contains($0) ? $0 : nil }
        }
        let remaining = number("remaining"), limit = number("limit").flatMap { $0 > 0 ? $0 : nil }
        if remaining != nil || limit != nil { found.append((measure, remaining, limit)) }
    }
    return found
}
