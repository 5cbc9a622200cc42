import CCurl
import CCurlShim

/// A blocking HTTP/1.1 and HTTP/2 client over libcurl.
///
/// TLS certificates and host names are verified. Handles are reused between requests, so
/// connections to the same host stay open. `execute` blocks its thread: call it from dedicated
/// threads, not from async tasks.
public final class HTTPClient: Sendable {
    /// Largest response body accepted, in bytes.
    public let maxResponseBytes: Int
    private let handles: CurlHandleCache

    public init(maxResponseBytes: Int = 16 * 1024 * 1024, keepAliveHandles: Int = 8) {
        self.maxResponseBytes = maxResponseBytes
        self.handles = CurlHandleCache(limit: keepAliveHandles)
    }

    /// Sends `request` and returns the response, whatever its status.
    public func execute(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        let shownURL = redactedURL(request.url)
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw .invalidRequest("\(shownURL) is not an http:// or https:// URL")
        }
        guard !request.method.isEmpty, request.method.allSatisfy({ $0.isLetter && $0.isUppercase }) else {
            throw .invalidRequest("'\(request.method)' is not an HTTP method")
        }
        for field in request.headers where field.name.contains(where: \.isNewline) || field.value.contains(where: \.isNewline) {
            throw .invalidRequest("header '\(field.name.prefix(40))' contains a line break")
        }
        let result: Result<HTTPResponse, HTTPClientError> = handles.withHandle { handle in
            Result { () throws(HTTPClientError) in try perform(request, on: handle, shownURL: shownURL) }
        }
        return try result.get()
    }

    private func perform(_ request: HTTPRequest, on handle: CurlHandle, shownURL: String) throws(HTTPClientError) -> HTTPResponse {
        let receiver = CurlReceiver(limit: maxResponseBytes)
        let receiverPointer = Unmanaged.passUnretained(receiver).toOpaque()
        handle.set(CURLOPT_URL, request.url)
        handle.set(CURLOPT_PROTOCOLS_STR, "http,https")
        handle.set(CURLOPT_SSL_VERIFYPEER, 1)
        handle.set(CURLOPT_SSL_VERIFYHOST, 2)
        handle.set(CURLOPT_TIMEOUT_MS, request.timeout.curlMilliseconds)
        handle.set(CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.curlMilliseconds)
        handle.set(CURLOPT_ACCEPT_ENCODING, "")
        handle.set(CURLOPT_WRITEFUNCTION, callback: CurlReceiver.writeBody)
        handle.set(CURLOPT_WRITEDATA, pointer: receiverPointer)
        handle.set(CURLOPT_HEADERFUNCTION, callback: CurlReceiver.writeHeader)
        handle.set(CURLOPT_HEADERDATA, pointer: receiverPointer)
        switch request.method {
        case "GET": handle.set(CURLOPT_HTTPGET, 1)
        case "HEAD": handle.set(CURLOPT_NOBODY, 1)
        default: handle.set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            handle.set(CURLOPT_POST, 1)
            handle.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.count))
            body.withUnsafeBytes { raw in
                // COPYPOSTFIELDS copies the bytes, so `body` need not outlive this call.
                handle.set(CURLOPT_COPYPOSTFIELDS, pointer: raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) })
            }
            if request.method != "POST" { handle.set(CURLOPT_CUSTOMREQUEST, request.method) }
        }
        // An empty Expect: header stops curl from waiting for "100 Continue" on large bodies.
        let headers = CurlStringList(request.headers.map { "\($0.name): \($0.value)" } + ["Expect:"])
        handle.set(CURLOPT_HTTPHEADER, list: headers)

        let (code, reason) = handle.perform()
        withExtendedLifetime(headers) {}
        withExtendedLifetime(receiver) {}
        guard code == CURLE_OK else {
            if receiver.overflowed { throw .responseTooLarge(url: shownURL, limit: maxResponseBytes) }
            switch code {
            case CURLE_OPERATION_TIMEDOUT: throw .timeout(url: shownURL, after: request.timeout)
            case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: throw .unknownHost(url: shownURL, reason: reason)
            case CURLE_COULDNT_CONNECT: throw .connectionFailed(url: shownURL, reason: reason)
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
                throw .tls(url: shownURL, reason: reason)
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: throw .invalidRequest("\(shownURL): \(reason)")
            default: throw .transport(url: shownURL, code: Int(code.rawValue), reason: reason)
            }
        }
        return HTTPResponse(
            status: handle.info(CURLINFO_RESPONSE_CODE),
            headers: HTTPHeaders(receiver.headers.map { ($0.name, $0.value) }),
            body: receiver.body
        )
    }
}
