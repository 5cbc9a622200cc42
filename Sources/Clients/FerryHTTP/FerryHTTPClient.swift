import CCurl
import CCurlShim

/// A blocking HTTP/1.1 and HTTP/2 client over libcurl.
///
/// TLS certificates and host names are verified. Handles are reused between requests, so
/// connections to the same host stay open. `execute` blocks its thread: call it from dedicated
/// threads, not from async tasks.
public final class FerryHTTPClient: Sendable {
    /// Largest response body accepted, in bytes.
    public let maxResponseBytes: Int
    private let handles: CurlHandleCache

    public init(maxResponseBytes: Int = 16 * 1024 * 1024, keepAliveHandles: Int = 8) {
        self.maxResponseBytes = maxResponseBytes
        self.handles = CurlHandleCache(limit: keepAliveHandles)
    }

    /// Sends `request` and returns the response, whatever its status.
    public func execute(_ request: Request) throws(FerryHTTPError) -> Response {
        let shownURL = try validate(request)
        let result: Result<Response, FerryHTTPError> = handles.withHandle { handle in
            Result { () throws(FerryHTTPError) in try perform(request, on: handle, shownURL: shownURL) }
        }
        return try result.get()
    }

    /// Sends `request` and hands the response body to `receive` block by block as it arrives,
    /// holding no more than one block: for downloads of any size.
    ///
    /// `receive` runs on the calling thread, inside the transfer, with the response's status and
    /// headers; the next block is read only when it returns (TCP slows the sender meanwhile). It may
    /// end the transfer early with ``StreamAction/stop``, or throw: the transfer ends and the error
    /// is rethrown as it was. Any status is handed over, 4xx and 5xx included. The request's
    /// `timeout` bounds the whole exchange; a transfer that moves less than one byte a second for
    /// `stallTimeout` ends as ``FerryHTTPError/timeout(url:after:)``.
    ///
    /// - Returns: the response's status and headers (also when the body was empty or stopped early).
    public func stream(
        _ request: Request, stallTimeout: Duration = .seconds(60),
        receive: (ResponseHead, UnsafeRawBufferPointer) throws -> StreamAction
    ) throws -> ResponseHead {
        let shownURL = try validate(request)
        return try withoutActuallyEscaping(receive) { receive in
            let sink = CurlStreamSink(receive: receive)
            let result: Result<ResponseHead, any Error> = handles.withHandle { handle in
                Result { () throws in
                    sink.handle = handle
                    defer { sink.handle = nil }
                    handle.set(CURLOPT_LOW_SPEED_LIMIT, 1)
                    handle.set(CURLOPT_LOW_SPEED_TIME, max(1, stallTimeout.curlMilliseconds / 1000))
                    let (code, reason) = transfer(request, on: handle, body: CurlStreamSink.write, bodyData: sink, headers: sink.headerReceiver)
                    if let error = sink.error { throw error }
                    if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && sink.stopped) {
                        throw failure(code, reason: reason, url: shownURL, request: request, overflowed: false)
                    }
                    return ResponseHead(status: handle.info(CURLINFO_RESPONSE_CODE), headers: sink.headerReceiver.headerFields)
                }
            }
            return try result.get()
        }
    }

    /// Checks what curl would not, and returns the URL fit for messages.
    private func validate(_ request: Request) throws(FerryHTTPError) -> String {
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
        return shownURL
    }

    private func perform(_ request: Request, on handle: CurlHandle, shownURL: String) throws(FerryHTTPError) -> Response {
        let receiver = CurlReceiver(limit: maxResponseBytes)
        let (code, reason) = transfer(request, on: handle, body: CurlReceiver.writeBody, bodyData: receiver, headers: receiver)
        guard code == CURLE_OK else {
            throw failure(code, reason: reason, url: shownURL, request: request, overflowed: receiver.overflowed)
        }
        return Response(
            status: handle.info(CURLINFO_RESPONSE_CODE),
            headers: receiver.headerFields,
            body: receiver.body
        )
    }

    /// Sets up `handle` for `request` and runs the transfer, body bytes to `body(bodyData)`.
    private func transfer(
        _ request: Request, on handle: CurlHandle, body: ferry_curl_data_callback, bodyData: AnyObject, headers: CurlReceiver
    ) -> (code: CURLcode, reason: String) {
        let bodyPointer = Unmanaged.passUnretained(bodyData).toOpaque()
        let headerPointer = Unmanaged.passUnretained(headers).toOpaque()
        handle.set(CURLOPT_URL, request.url)
        handle.set(CURLOPT_PROTOCOLS_STR, "http,https")
        handle.set(CURLOPT_SSL_VERIFYPEER, 1)
        handle.set(CURLOPT_SSL_VERIFYHOST, 2)
        handle.set(CURLOPT_TIMEOUT_MS, request.timeout.curlMilliseconds)
        handle.set(CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.curlMilliseconds)
        handle.set(CURLOPT_ACCEPT_ENCODING, "")
        handle.set(CURLOPT_WRITEFUNCTION, callback: body)
        handle.set(CURLOPT_WRITEDATA, pointer: bodyPointer)
        handle.set(CURLOPT_HEADERFUNCTION, callback: CurlReceiver.writeHeader)
        handle.set(CURLOPT_HEADERDATA, pointer: headerPointer)
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
        let headerList = CurlStringList(request.headers.map { "\($0.name): \($0.value)" } + ["Expect:"])
        handle.set(CURLOPT_HTTPHEADER, list: headerList)
        let result = handle.perform()
        withExtendedLifetime((headerList, bodyData, headers)) {}
        return result
    }

    private func failure(_ code: CURLcode, reason: String, url: String, request: Request, overflowed: Bool) -> FerryHTTPError {
        if overflowed { return .responseTooLarge(url: url, limit: maxResponseBytes) }
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timeout(url: url, after: request.timeout)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .unknownHost(url: url, reason: reason)
        case CURLE_COULDNT_CONNECT: return .connectionFailed(url: url, reason: reason)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            return .tls(url: url, reason: reason)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return .invalidRequest("\(url): \(reason)")
        default: return .transport(url: url, code: Int(code.rawValue), reason: reason)
        }
    }
}
