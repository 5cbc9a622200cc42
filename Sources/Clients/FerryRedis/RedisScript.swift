import Synchronization

/// A Lua script run with EVALSHA.
///
/// The script is loaded into the server once (`SCRIPT LOAD`) and its SHA1 remembered; when the
/// server has forgotten it (a restart, `SCRIPT FLUSH`), the `NOSCRIPT` reply triggers a reload.
/// Declare scripts once, as `static let`, and share them between connections.
public final class RedisScript: @unchecked Sendable {
    // @unchecked Sendable: `loadedSHA` is written once, under `writer`, before `published` is set
    // with release ordering, and read only after `published` is seen with acquire ordering. The
    // SHA1 of a source never changes, so a reload after NOSCRIPT has nothing to write.
    //
    // Every job's acknowledgement reads the SHA from every executor thread at once: a lock here
    // was the hottest contended lock of a worker process.
    public let name: String
    public let source: String
    private let published = Atomic<Bool>(false)
    private let writer = Mutex<Void>(())
    private nonisolated(unsafe) var loadedSHA: String?

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    var sha: String? { published.load(ordering: .acquiring) ? loadedSHA : nil }

    func remember(sha: String) {
        writer.withLock { _ in
            guard !published.load(ordering: .relaxed) else { return }
            loadedSHA = sha
            published.store(true, ordering: .releasing)
        }
    }
}
