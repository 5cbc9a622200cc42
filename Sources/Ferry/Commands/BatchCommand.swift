import ArgumentParser
import FerryQueue
import FerryRedis
import FerryWorker
import Foundation

/// `ferry batch ID`: a batch's progress.
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Show a batch's progress (total, pending, succeeded, failed, dead, callbacks) as JSON.",
        discussion: """
            A batch is kept for a week after it completes. --wait blocks until it completes or the
            time is up; the exit status is then 0 when every job succeeded, 1 when some went dead,
            2 for a timeout.
            """
    )

    @Argument(help: "The batch's id, as returned when it was enqueued.")
    var id: String

    @Option(help: "Wait up to this long for the batch to complete: 30s, 5m.")
    var wait: String?

    func run() throws {
        let environment = FerryEnvironment()
        var deadline: ContinuousClock.Instant?
        if let wait {
            guard let duration = JobSettingsFile.parseDuration(wait), duration >= .zero else {
                throw ValidationError("--wait must be a duration like 30s or 5m, got '\(wait)'")
            }
            deadline = .now + duration
        }
        let redis = try RedisConnection(configuration: try environment.redisConfiguration())
        let batches = Batches(dispatcher: Dispatcher(redis: try environment.redisPool(capacity: 1), keys: environment.keys))
        while true {
            guard let status = try batches.status(id: id, on: redis) else {
                throw ValidationError("no batch \(id): never enqueued here, or completed over a week ago")
            }
            let complete = status.completedAt != nil
            if complete || deadline == nil || ContinuousClock.now >= deadline! {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                if deadline != nil, !complete { throw ExitCode(2) }
                if complete, status.dead > 0, deadline != nil { throw ExitCode(1) }
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}
