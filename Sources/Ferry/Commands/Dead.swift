import ArgumentParser
import FerryQueue
import FerryRedis
import Foundation

/// `ferry dead`: look at and repair jobs that ran out of attempts.
struct Dead: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, retry or delete dead jobs.",
        subcommands: [List.self, Retry.self, Delete.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead jobs, newest first.")

        @Option(help: "Only this queue.")
        var queue: String?

        @Option(help: "Most jobs to show.")
        var limit: Int = 50

        @Flag(help: "Print JSON lines.")
        var json = false

        func run() throws {
            let environment = FerryEnvironment()
            let redis = try RedisConnection(configuration: try environment.redisConfiguration())
            let dead = try QueueAdmin(keys: environment.keys).dead.jobs(queue: queue, limit: limit, on: redis)
            for job in dead {
                if json {
                    let object: [String: JSONValue] = [
                        "id": .string(job.id), "type": job.job.map { .string($0.type) } ?? .null, "queue": .string(job.queue),
                        "attempt": job.job.map { .int(Int64($0.attempt)) } ?? .null, "error_type": .string(job.error.type),
                        "error": .string(job.error.message), "died_at": .double(job.diedAt),
                    ]
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(object), as: UTF8.self))
                } else {
                    let when = Date(timeIntervalSince1970: job.diedAt).formatted(.iso8601)
                    print("\(job.id)  \(job.job?.type ?? "(unparsable)")  \(job.queue)  \(when)  \(job.error.type): \(job.error.message)")
                }
            }
            if !json && dead.isEmpty { print("no dead jobs") }
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enqueue dead jobs again, attempts starting over.")

        @Argument(help: "The id of the dead job.")
        var id: String?

        @Flag(help: "Retry every dead job.")
        var all = false

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give a job id or --all") }
        }

        func run() throws {
            let environment = FerryEnvironment()
            let redis = try RedisConnection(configuration: try environment.redisConfiguration())
            let admin = QueueAdmin(keys: environment.keys)
            if all {
                var count = 0
                while true {
                    let batch = try admin.dead.jobs(limit: 1000, on: redis)
                    if batch.isEmpty { break }
                    for job in batch where try admin.dead.retry(job, on: redis) { count += 1 }
                }
                print("retried \(count) jobs")
                return
            }
            guard let id, try admin.dead.retry(id: id, on: redis) else {
                throw ValidationError("no dead job with id \(id ?? "")")
            }
            print("retried \(id)")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a dead job for good.")

        @Argument(help: "The id of the dead job.")
        var id: String

        func run() throws {
            let environment = FerryEnvironment()
            let redis = try RedisConnection(configuration: try environment.redisConfiguration())
            let admin = QueueAdmin(keys: environment.keys)
            guard try admin.dead.delete(id: id, on: redis) else {
                throw ValidationError("no dead job with id \(id)")
            }
            print("deleted \(id)")
        }
    }
}
