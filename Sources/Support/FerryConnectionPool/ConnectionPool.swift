import Dispatch
import Foundation

/// A small pool of blocking connections shared by many threads.
///
/// Each connection is used by one thread at a time: ``withConnection(_:)`` lends one out and takes
/// it back when the closure returns. Connections are created lazily, up to ``capacity``; a caller
/// that finds them all lent out waits up to ``checkoutTimeout``.
///
/// The clients built on this pool block their thread while they wait for the network, so call
/// them from dedicated threads, never from the cooperative pool of Swift concurrency.
public final class ConnectionPool<Connection: AnyObject & Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `idleConnections` is read and written under `lock` only.
    /// Error thrown when no connection becomes free in time.
    public struct CheckoutTimeout: Error, CustomStringConvertible {
        public let name: String
        public let capacity: Int
        public let waited: Duration
        public var description: String {
            "all \(capacity) \(name) connections stayed busy for \(waited); raise the pool size or shorten the work done while holding one"
        }
    }

    public let name: String
    public let capacity: Int
    public let checkoutTimeout: Duration

    /// A pthread mutex (NSLock) rather than `Synchronization.Mutex`, whose slow path spins: with
    /// hundreds of threads on 2 cores the holder is often descheduled, and spinning waiters burned
    /// 15% of a worker's CPU (perf, claude.message with 50 threads).
    private let lock = NSLock()
    private var idleConnections: [Connection] = []
    private let permits: DispatchSemaphore
    private let makeConnection: @Sendable () throws -> Connection

    /// - Parameters:
    ///   - name: Used in error messages ("redis", "postgres").
    ///   - capacity: Most connections open at once.
    ///   - checkoutTimeout: How long a caller waits for a busy pool.
    ///   - makeConnection: Opens a new connection; its errors reach the caller of `withConnection`.
    public init(
        name: String,
        capacity: Int,
        checkoutTimeout: Duration = .seconds(30),
        makeConnection: @escaping @Sendable () throws -> Connection
    ) {
        precondition(capacity > 0, "a pool needs room for at least one connection")
        self.name = name
        self.capacity = capacity
        self.checkoutTimeout = checkoutTimeout
        self.permits = DispatchSemaphore(value: capacity)
        self.makeConnection = makeConnection
    }

    /// Lends a connection to `body` for the duration of the call.
    @discardableResult
    public func withConnection<Result>(_ body: (Connection) throws -> Result) throws -> Result {
        let (seconds, attoseconds) = checkoutTimeout.components
        let deadline = DispatchTime.now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        guard permits.wait(timeout: deadline) == .success else {
            throw CheckoutTimeout(name: name, capacity: capacity, waited: checkoutTimeout)
        }
        defer { permits.signal() }
        let connection = try lock.withLock { idleConnections.popLast() } ?? makeConnection()
        defer { lock.withLock { idleConnections.append(connection) } }
        return try body(connection)
    }

    /// Connections currently idle in the pool.
    public var idleCount: Int { lock.withLock { idleConnections.count } }

    /// Drops every idle connection (they close when released).
    public func drain() {
        lock.withLock { idleConnections.removeAll() }
    }
}
