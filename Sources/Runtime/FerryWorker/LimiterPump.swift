import FerryQueue
import FerryRedis
import Foundation

/// The rate limiters' pump of a worker process, on a thread of its own: publishes each limiter's
/// settings, then hands freed tokens to parked jobs as soon as they free (it sleeps until the
/// next one is due, at most 100 ms). Every worker process with a rate-limited type runs one; the
/// release script is atomic, so more pumps only mean less delay, never more jobs.
struct LimiterPump {
    let process: WorkerProcess

    func run() {
        let limiters = process.limiters.values.sorted { $0.type < $1.type }
        var redis: RedisConnection?
        while !process.isStopping {
            do {
                let connection: RedisConnection
                if let redis { connection = redis } else {
                    connection = try RedisConnection(configuration: process.redisConfiguration)
                    for limiter in limiters { try limiter.register(on: connection) }
                    redis = connection
                }
                var sleep = Duration.milliseconds(100)
                for limiter in limiters {
                    let (released, nextIn) = try limiter.release(maxJobs: 200, on: connection)
                    if released == 200 { sleep = .zero } else if let nextIn, nextIn < sleep { sleep = nextIn }
                }
                if sleep > .zero { Thread.sleep(forTimeInterval: max(sleep.secondsValue, 0.001)) }
            } catch {
                redis = nil
                process.logger.error("redis failure in the rate limiter pump; retrying", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }
}
