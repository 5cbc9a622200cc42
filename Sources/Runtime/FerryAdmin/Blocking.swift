import Dispatch
import FerryRedis

/// A blocking call (Redis) failed; its message is safe to show (no secrets).
struct BlockingError: Error {
    let message: String
}

/// Runs blocking client calls on a thread of their own, never on Swift concurrency's cooperative
/// pool, so the HTTP server stays responsive while Redis answers.
struct Blocking: Sendable {
    let redis: RedisConnectionPool
    private let queue = DispatchQueue(label: "ferry.admin.blocking", attributes: .concurrent)

    init(redis: RedisConnectionPool) {
        self.redis = redis
    }

    /// Runs `body` on the blocking queue.
    func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Swift.Result { try body() }) }
        }
    }

    func withRedis<Result: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try redis.withConnection(body))
                } catch let error as RedisError {
                    continuation.resume(throwing: BlockingError(message: error.description))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
