import FerryHTTP
import FerrySupport
import FerryWorker
import Foundation

/// Where an import's bytes come from: a file under the import root, or an `http(s)://` URL.
///
/// An import reads the first bytes for the header, then streams from its checkpoint to the end;
/// neither the file nor the download is ever held whole.
protocol ImportSource: Sendable {
    /// How the source is recorded and shown: the path, or the URL with its secrets replaced.
    var name: String { get }
    /// Up to `count` bytes from the start, and the size in bytes when the source tells it.
    func prefix(_ count: Int) throws -> (bytes: [UInt8], size: Int64?)
    /// Hands the bytes from `offset` to the end to `body`, block by block, in order.
    func stream(from offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// A file on this machine.
struct FileImportSource: ImportSource {
    let path: String
    let name: String

    /// Bytes read per block.
    static let blockSize = 256 * 1024

    func prefix(_ count: Int) throws -> (bytes: [UInt8], size: Int64?) {
        let handle = try open()
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        return (Array(try handle.read(upToCount: count) ?? Data()), Int64(size))
    }

    func stream(from offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let handle = try open()
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        while let block = try handle.read(upToCount: Self.blockSize), !block.isEmpty {
            try block.withUnsafeBytes { try body($0) }
        }
    }

    private func open() throws -> FileHandle {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PermanentJobError("cannot open '\(name)' for reading") }
        return handle
    }
}

/// A download (an object store's pre-signed URL, say), streamed through libcurl.
///
/// A resumed import asks for the rest with `Range: bytes=N-`; a server that ignores ranges sends
/// everything and the first N bytes are skipped. Statuses that will not change (400, 401, 403,
/// 404, 410, …) are permanent failures; 408, 429, 5xx and broken connections are retried.
struct HTTPImportSource: ImportSource {
    let url: String
    let client: FerryHTTPClient
    /// The whole download must finish within this time (the job's timeout).
    let timeout: Duration

    var name: String { URLRedaction.redact(url) }

    func prefix(_ count: Int) throws -> (bytes: [UInt8], size: Int64?) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        let head = try get(range: "bytes=0-\(count - 1)") { _, block in
            bytes.append(contentsOf: block.prefix(count - bytes.count))
            return bytes.count < count ? .continue : .stop
        }
        if head.status == 416 { return ([], 0) }
        // A size the server states must be a size: a negative one is treated as unknown.
        return (bytes, head.status == 206 ? Self.total(head.headers["Content-Range"]) : head.headers["Content-Length"].flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil })
    }

    func stream(from offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var skip = Int64(0)
        var checked = false
        let head = try get(range: offset > 0 ? "bytes=\(offset)-" : nil) { head, block in
            if !checked {
                checked = true
                if offset > 0 { skip = try Self.bytesToSkip(offset: offset, head: head) }
            }
            var block = block
            if skip > 0 {
                let dropped = Int(min(skip, Int64(block.count)))
                skip -= Int64(dropped)
                block = UnsafeRawBufferPointer(rebasing: block[dropped...])
            }
            if !block.isEmpty { try body(block) }
            return .continue
        }
        if head.status == 416 { return }  // nothing after the checkpoint
        if skip > 0 { throw ImportSourceError.unavailable("\(name) ended \(skip) bytes before the checkpoint at byte \(offset): did the file change?") }
    }

    /// Sends the GET and turns failing statuses into errors before any body is handed on.
    private func get(range: String?, _ receive: (FerryHTTPClient.ResponseHead, UnsafeRawBufferPointer) throws -> FerryHTTPClient.StreamAction) throws -> FerryHTTPClient.ResponseHead {
        var headers: FerryHTTPClient.Headers = ["Accept-Encoding": "identity"]
        if let range { headers.add(name: "Range", value: range) }
        let request = FerryHTTPClient.Request(url: url, headers: headers, timeout: timeout)
        let head: FerryHTTPClient.ResponseHead
        do {
            head = try client.stream(request) { head, block in
                guard head.isSuccess else { return .stop }
                return try receive(head, block)
            }
        } catch let error as FerryHTTPError {
            if error.isTransient { throw ImportSourceError.unavailable(error.description) }
            throw PermanentJobError(error.description)
        }
        try check(head.status)
        return head
    }

    private func check(_ status: Int) throws {
        switch status {
        case 200..<300, 416: return
        case 408, 425, 429, 500..<600:
            throw ImportSourceError.unavailable("\(name) answered HTTP \(status); trying again later")
        default:
            throw PermanentJobError("\(name) answered HTTP \(status)\(status == 403 ? " (an expired pre-signed URL?)" : "")")
        }
    }

    /// How many bytes of the answer to a `Range: bytes=offset-` request come before `offset`.
    static func bytesToSkip(offset: Int64, head: FerryHTTPClient.ResponseHead) throws -> Int64 {
        guard head.status == 206 else { return offset }  // the whole file: skip to the checkpoint ourselves
        guard let range = head.headers["Content-Range"], range.hasPrefix("bytes \(offset)-") else {
            throw ImportSourceError.unavailable("asked for bytes from \(offset) and got '\(head.headers["Content-Range"]?.prefix(80) ?? "no Content-Range")'")
        }
        return 0
    }

    /// The size in `Content-Range: bytes 0-99/12345`, when given.
    static func total(_ contentRange: String?) -> Int64? {
        guard let contentRange, let slash = contentRange.lastIndex(of: "/") else { return nil }
        return Int64(contentRange[contentRange.index(after: slash)...]).flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// A source that may come back: the job is retried and resumes at its checkpoint.
enum ImportSourceError: Error, CustomStringConvertible {
    case unavailable(String)

    var description: String {
        switch self {
        case .unavailable(let reason): return "the import source is unavailable: \(reason)"
        }
    }
}
