import Foundation
public import ServiceLifecycle

/// A swift-service-lifecycle `Service` whose work is one blocking call on a thread of its own —
/// a supervisor's `waitpid` loop, a scheduler's sleep-and-fire loop — so that it never holds a
/// thread of the cooperative pool. On graceful shutdown (or cancellation) `stop` is called; the
/// service ends when the blocking call returns.
public struct BlockingService: Service {
    /// The thread's name, for debuggers and `top -H`.
    public let name: String
    private let body: @Sendable () throws -> Void
    private let stop: @Sendable () -> Void

    /// - Parameters:
    ///   - name: the thread's name.
    ///   - body: the blocking work; it must return soon after `stop` is called.
    ///   - stop: asks `body` to finish (called at most once, from another thread).
    public init(name: String, body: @escaping @Sendable () throws -> Void, stop: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
        self.stop = stop
    }

    public func run() async throws {
        let (name, body) = (name, body)
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let thread = Thread {
                    do {
                        try body()
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = name
                thread.start()
            }
        } onCancelOrGracefulShutdown: { [stop] in
            stop()
        }
    }
}
