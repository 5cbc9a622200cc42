import ArgumentParser
import FerryQueue
import FerryRedis

/// `ferry queue pause|resume NAME`.
struct Queue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause or resume a queue (a paused queue keeps its jobs but is not fetched).",
        subcommands: [Pause.self, Resume.self]
    )

    struct Pause: ParsableCommand {
        @Argument(help: "The queue.") var name: String
        func run() throws {
            let environment = FerryEnvironment()
            try QueueAdmin(keys: environment.keys).paused.pause(name, on: try RedisConnection(configuration: try environment.redisConfiguration()))
            print("paused \(name)")
        }
    }

    struct Resume: ParsableCommand {
        @Argument(help: "The queue.") var name: String
        func run() throws {
            let environment = FerryEnvironment()
            try QueueAdmin(keys: environment.keys).paused.resume(name, on: try RedisConnection(configuration: try environment.redisConfiguration()))
            print("resumed \(name)")
        }
    }
}
