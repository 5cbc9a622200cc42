import Synchronization

/// A Lua script run with EVALSHA.
///
/// The script is loaded into the server once (`SCRIPT LOAD`) and its SHA1 remembered; when the
/// server has forgotten it (a restart, `SCRIPT FLUSH`), the `NOSCRIPT` reply triggers a reload.
/// Declare scripts once, as `static let`, and share them between connections.
public final class RedisScript: Sendable {
    public let name: String
    public let source: String
    private let loadedSHA = Mutex<String?>(nil)

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    var sha: String? { loadedSHA.withLock { $0 } }

    func remember(sha: String) {
        loadedSHA.withLock { $0 = sha }
    }
}
