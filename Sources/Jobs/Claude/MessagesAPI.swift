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
    let http: HTTPClient

    public init(apiKey: String, baseURL: String = "https://api.anthropic.com", version: String = "2023-06-01", http: HTTPClient) {
        self.apiKey = apiKey
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.version = version
        self.http = http
    }

    /// From the environment; nil without `ANTHROPIC_API_KEY`.
    public init?(environment: [String: String], http: HTTPClient) {
        guard let key = environment["ANTHROPIC_API_KEY"], !key.isEmpty else { return nil }
        self.init(
            apiKey: key, baseURL: environment["ANTHROPIC_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.anthropic.com",
            version: environment["ANTHROPIC_VERSION"].flatMap { $0.isEmpty ? nil : $0 } ?? "2023-06-01", http: http
        )
    }

    public var description: String { "MessagesAPI(\(URLRedaction.redact(baseURL)), version \(version), key ***)" }

    private var headers: HTTPHeaders {
        ["x-api-key": apiKey, "anthropic-version": version, "content-type": "application/json", "accept": "application/json"]
    }

    /// `POST <base><path>` with a JSON body; any status is returned.
    func post(_ path: String, body: [UInt8], timeout: Duration) throws(HTTPClientError) -> HTTPResponse {
        try http.execute(HTTPRequest(method: "POST", url: baseURL + path, headers: headers, body: body, timeout: timeout))
    }

    /// `GET <base><path>`; any status is returned.
    func get(_ path: String, timeout: Duration) throws(HTTPClientError) -> HTTPResponse {
        try http.execute(HTTPRequest(url: baseURL + path, headers: headers, timeout: timeout))
    }

    /// Streams the body of `url` (a batch's results file), with the key, to `receive`.
    func stream(_ url: String, timeout: Duration, receive: (HTTPResponseHead, UnsafeRawBufferPointer) throws -> HTTPStreamAction) throws -> HTTPResponseHead {
        try http.stream(HTTPRequest(url: url, headers: headers, timeout: timeout), receive: receive)
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
    static func from(_ response: HTTPResponse) -> ClaudeAPIError {
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

/// The `anthropic-ratelimit-<measure>-remaining` / `-reset` headers of a response, by measure
/// name (`requests`, `input_tokens`, `output_tokens`).
func rateLimitHeaders(_ headers: HTTPHeaders) -> [(measure: String, remaining: Int64, resetsAt: Date)] {
    var found: [(String, Int64, Date)] = []
    for (header, measure) in [("requests", "requests"), ("input-tokens", "input_tokens"), ("output-tokens", "output_tokens")] {
        guard let remaining = headers["anthropic-ratelimit-\(header)-remaining"].flatMap({ Int64($0) }), remaining >= 0,
              let resetText = headers["anthropic-ratelimit-\(header)-reset"],
              let reset = RFC3339.date(resetText) else { continue }
        found.append((measure, remaining, reset))
    }
    return found
}

/// Reads an RFC 3339 time (`2026-11-25T01:02:03Z`, `…03.5Z`, `…03+01:00`) without a date
/// formatter: parsing with `ISO8601DateFormatter` took 10% of a worker's CPU per call under `perf`.
enum RFC3339 {
    static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"), let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
              let day = number(8..<10), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16), bytes[16] == UInt8(ascii: ":"),
              let second = number(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            guard index == bytes.count - 1 else { return nil }
        } else {
            guard bytes.count - index == 6, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                  let hours = number(index + 1..<index + 3), bytes[index + 3] == UInt8(ascii: ":"), let minutes = number(index + 4..<index + 6) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil" algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }
}
