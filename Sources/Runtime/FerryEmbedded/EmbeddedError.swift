/// Why an embedded server could not be set up or kept running. Messages name the path or program
/// and what to do; they never contain a password.
public enum EmbeddedError: Error, Sendable, CustomStringConvertible {
    /// A path Ferry would keep data or secrets in is unsafe (a symbolic link) or unusable.
    case unsafePath(String, reason: String)
    /// A server program is missing.
    case notInstalled(String)
    /// The server did not answer in time after starting.
    case didNotStart(String, log: String)
    /// The server exited while Ferry was running.
    case exited(String, status: Int32, log: String)
    /// A file system or process call failed.
    case system(String)

    public var description: String {
        switch self {
        case .unsafePath(let path, let reason): "\(path): \(reason)"
        case .notInstalled(let program): "\(program) is not installed; run ops/setup (or set FERRY_REDIS_URL and DATABASE_URL to servers of your own)"
        case .didNotStart(let name, let log): "the embedded \(name) did not start; see \(log)"
        case .exited(let name, let status, let log): "the embedded \(name) exited (status \(status)); see \(log)"
        case .system(let message): message
        }
    }
}
