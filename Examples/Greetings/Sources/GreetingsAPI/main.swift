import FerryQueue
import FerryRedis
import Foundation
import GreetingsDefinitions

// An API tier enqueueing typed jobs: `greetings-api NAME [NAME…]` prints one job id per name.
let environment = ProcessInfo.processInfo.environment
let ferry = Dispatcher(
    configuration: try RedisConfiguration(url: environment["FERRY_REDIS_URL"] ?? "redis://127.0.0.1:6379"),
    keys: QueueKeyspace(namespace: environment["FERRY_NAMESPACE"] ?? "ferry"))

let names = CommandLine.arguments.dropFirst()
let first = try await ferry.enqueue(Greet.self, .init(name: names.first ?? "world", language: "de"))
let rest = try await ferry.enqueue(batch: names.dropFirst().map { try .init(Greet.self, .init(name: $0)) })
for id in [first] + rest { print(id) }
