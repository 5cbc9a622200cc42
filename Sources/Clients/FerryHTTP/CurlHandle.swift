import CCurl
import CCurlShim
import FerrySupport
import Foundation
import Synchronization

/// libcurl's process-wide setup, done once before the first handle is made.
enum Curl {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    static func ensureInitialized() {
        precondition(initialized, "curl_global_init failed")
    }
}

/// One curl easy handle with typed option setters.
///
/// A handle is reused between transfers (keeping connections alive) but used by one thread at a
/// time: clients keep idle handles in a locked list and lend them out per request.
final class CurlHandle: @unchecked Sendable {
    // @unchecked Sendable: a CURL* is mutable C state, used by one thread at a time (see above).
    let raw: UnsafeMutableRawPointer
    /// curl writes a human-readable reason for the last failure here.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init() {
        Curl.ensureInitialized()
        guard let raw = curl_easy_init() else { fatalError("curl_easy_init returned NULL: out of memory") }
        self.raw = raw
        reset()
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option (keeping live connections and caches) and sets Ferry's defaults.
    func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_NOPROGRESS, 1)
    }

    func set(_ option: CURLoption, _ value: Int) {
        _ = ferry_curl_setopt_long(raw, option, value)
    }

    func set(_ option: CURLoption, offset value: Int64) {
        _ = ferry_curl_setopt_off(raw, option, curl_off_t(value))
    }

    /// curl copies string options, so `value` need not outlive the call.
    func set(_ option: CURLoption, _ value: String) {
        _ = ferry_curl_setopt_string(raw, option, value)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) {
        _ = ferry_curl_setopt_pointer(raw, option, value)
    }

    /// The list must stay alive until the transfer is done.
    func set(_ option: CURLoption, list: CurlStringList) {
        _ = ferry_curl_setopt_slist(raw, option, list.head)
    }

    func set(_ option: CURLoption, callback: ferry_curl_data_callback) {
        _ = ferry_curl_setopt_callback(raw, option, callback)
    }

    func info(_ item: CURLINFO) -> Int {
        var value = 0
        _ = ferry_curl_getinfo_long(raw, item, &value)
        return value
    }

    /// Runs the transfer; returns curl's result code and its reason text.
    func perform() -> (code: CURLcode, reason: String) {
        errorBuffer[0] = 0
        let code = curl_easy_perform(raw)
        guard code != CURLE_OK else { return (code, "") }
        let detail = String(cString: errorBuffer)
        return (code, detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
    }
}

/// A `curl_slist`, freed when released.
final class CurlStringList {
    fileprivate(set) var head: UnsafeMutablePointer<curl_slist>?

    init(_ strings: [String]) {
        for string in strings { head = curl_slist_append(head, string) }
    }

    deinit { curl_slist_free_all(head) }
}

/// Idle easy handles kept for reuse, so that connections stay alive between requests.
final class CurlHandleCache: @unchecked Sendable {
    // @unchecked Sendable: `idle` is read and written under `lock` only (a pthread mutex: see
    // FerryConnectionPool for why not `Synchronization.Mutex` with many threads).
    private let lock = NSLock()
    private var idle: [CurlHandle] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func withHandle<Result>(_ body: (CurlHandle) throws -> Result) rethrows -> Result {
        let handle = lock.withLock { idle.popLast() } ?? CurlHandle()
        defer {
            handle.reset()
            lock.withLock { if idle.count < limit { idle.append(handle) } }
        }
        return try body(handle)
    }
}

/// Bytes received by a transfer, filled in by curl's callbacks.
final class CurlReceiver {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    let limit: Int
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    var headerFields: FerryHTTPClient.Headers { FerryHTTPClient.Headers(headers.map { ($0.name, $0.value) }) }

    /// Write callback: appends body bytes; stops the transfer past the limit.
    static let writeBody: ferry_curl_data_callback = { buffer, size, count, userdata in
        let receiver = Unmanaged<CurlReceiver>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        guard receiver.body.count + length <= receiver.limit else {
            receiver.overflowed = true
            return 0
        }
        if let buffer { receiver.body.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: length)) }
        return length
    }

    /// Header callback: one call per header line; a new status line starts a new header block.
    static let writeHeader: ferry_curl_data_callback = { buffer, size, count, userdata in
        let receiver = Unmanaged<CurlReceiver>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        guard let buffer else { return length }
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            receiver.headers.removeAll()
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            receiver.headers.append((name, value))
        }
        return length
    }
}

/// A streamed transfer's body, handed block by block to a closure (``FerryHTTPClient/stream(_:stallTimeout:receive:)``).
final class CurlStreamSink {
    let receive: (FerryHTTPClient.ResponseHead, UnsafeRawBufferPointer) throws -> FerryHTTPClient.StreamAction
    let headerReceiver = CurlReceiver(limit: 0)
    /// The handle of the running transfer, for the status code.
    var handle: CurlHandle?
    /// What `receive` threw, rethrown once curl returns.
    var error: (any Error)?
    /// `receive` asked to end the transfer.
    var stopped = false

    init(receive: @escaping (FerryHTTPClient.ResponseHead, UnsafeRawBufferPointer) throws -> FerryHTTPClient.StreamAction) {
        self.receive = receive
    }

    static let write: ferry_curl_data_callback = { buffer, size, count, userdata in
        let sink = Unmanaged<CurlStreamSink>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        guard let buffer, length > 0 else { return length }
        let head = FerryHTTPClient.ResponseHead(status: sink.handle?.info(CURLINFO_RESPONSE_CODE) ?? 0, headers: sink.headerReceiver.headerFields)
        do {
            switch try sink.receive(head, UnsafeRawBufferPointer(start: buffer, count: length)) {
            case .continue: return length
            case .stop:
                sink.stopped = true
                return 0
            }
        } catch {
            sink.error = error
            return 0
        }
    }
}

/// Bytes sent by an upload (the SMTP message), read by curl's read callback.
final class CurlUploadSource {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static let read: ferry_curl_data_callback = { buffer, size, count, userdata in
        let source = Unmanaged<CurlUploadSource>.fromOpaque(userdata!).takeUnretainedValue()
        let length = min(size * count, source.bytes.count - source.offset)
        guard length > 0, let buffer else { return 0 }
        source.bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + source.offset, byteCount: length)
        }
        source.offset += length
        return length
    }
}

extension Duration {
    /// Whole milliseconds, at least 1, for curl's `*_MS` options.
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// A URL fit for an error message: its secrets replaced by `***` (``URLRedaction``).
func redactedURL(_ url: String) -> String { URLRedaction.redact(url) }
