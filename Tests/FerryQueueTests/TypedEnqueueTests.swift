import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// A definition as an API tier would write it: the name, the arguments, the defaults.
private enum Welcome: JobDefinition {
    static let type = "welcome.send"
    static let defaultSettings = JobSettings(queue: "mail", maxAttempts: 4, timeout: .seconds(30))

    struct Arguments: Codable, Sendable, Equatable {
        var userID: Int
        var template: String
        var tags: [String]?
        enum CodingKeys: String, CodingKey {
            case template, tags
            case userID = "user_id"
        }
    }
}

private enum Tick: JobDefinition {
    static let type = "tick"
}

/// Arguments that do not encode to a JSON object.
private enum Scalar: JobDefinition {
    static let type = "scalar"
    typealias Arguments = Int
}

/// Typed enqueues, blocking and async: checked by the compiler, routed by the definition in any
/// process, written as the JSON object a producer in another language would write.
@Suite struct TypedEnqueueTests {
    let keys = QueueKeyspace(namespace: "typed-\(UUID().uuidString.prefix(8))")
    let configuration: RedisConfiguration
    let redis: RedisConnection

    init() throws {
        configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        redis = try RedisConnection(configuration: configuration)
    }

    func ready(_ queue: String) throws -> [Job] {
        try (redis.command("LRANGE", .string(keys.ready(queue)), 0, -1).array ?? []).map { try Job.decode($0.bytes ?? []) }
    }

    @Test func aBlockingTypedEnqueueGoesToTheDefinitionsQueueWithItsDefaults() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: configuration, capacity: 1), keys: keys)
        let id = try dispatcher.enqueue(Welcome.self, .init(userID: 42, template: "welcome"))
        let jobs = try ready("mail")
        #expect(jobs.map(\.id) == [id])
        #expect(jobs[0].type == "welcome.send")
        #expect(jobs[0].args == ["user_id": 42, "template": "welcome"])
        #expect(jobs[0].maxAttempts == 4)
        #expect(jobs[0].timeoutS == 30)
        #expect(try ready("default").isEmpty)
        // A process that knows configured defaults for the type (a registry that read jobs/*.yml) uses them.
        let configured = Dispatcher(
            redis: RedisConnectionPool(configuration: configuration, capacity: 1), keys: keys,
            defaults: { $0 == Welcome.type ? EnqueueDefaults(queue: "mail-eu", maxAttempts: 2) : nil })
        try configured.enqueue(Welcome.self, .init(userID: 7, template: "welcome"))
        #expect(try ready("mail-eu").map(\.maxAttempts) == [2])
        // An explicit queue wins over both.
        try dispatcher.enqueue(Tick.self, .init(), options: .init(queue: "clock"))
        #expect(try ready("clock").map(\.args) == [.object([:])])
    }

    @Test func asyncEnqueuesFromManyTasksLandEveryJobOnce() async throws {
        let dispatcher = Dispatcher(configuration: configuration, keys: keys)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for user in 0..<500 {
                group.addTask { try await dispatcher.enqueue(Welcome.self, .init(userID: user, template: "welcome")) }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 500)
        let jobs = try ready("mail")
        #expect(Set(jobs.map(\.id)) == ids)
        #expect(Set(jobs.compactMap { $0.args["user_id"]?.int }) == Set(0..<500))
        #expect(try redis.command("SISMEMBER", .string(keys.queues), "mail").int == 1)
    }

    @Test func asyncBulkUniqueAndDelayedEnqueues() async throws {
        let dispatcher = Dispatcher(configuration: configuration, keys: keys)
        // Unique jobs go through a script: the first use after a SCRIPT FLUSH loads it in the same round trip.
        try redis.command("SCRIPT", "FLUSH")
        let first = try await dispatcher.enqueue(Welcome.self, .init(userID: 1, template: "a"), options: .init(uniqueKey: "u1"))
        let again = try await dispatcher.enqueue(Welcome.self, .init(userID: 1, template: "a"), options: .init(uniqueKey: "u1"))
        #expect(first == again)
        let later = Date().addingTimeInterval(600)
        let bulk = try await dispatcher.enqueue(batch: [
            try .init(Welcome.self, .init(userID: 2, template: "b")),
            try .init(Welcome.self, .init(userID: 3, template: "c"), options: .init(runAt: later)),
            try .init(Welcome.self, .init(userID: 4, template: "d"), options: .init(uniqueKey: "u1")),
            try .init(Tick.self, .init()),
        ])
        #expect(bulk.count == 4)
        #expect(bulk[2] == first)
        #expect(try ready("mail").count == 2)
        #expect(try redis.command("ZCARD", .string(keys.scheduled("mail"))).int == 1)
        #expect(try ready("default").map(\.type) == ["tick"])
    }

    @Test func invalidTypedEnqueuesWriteNothingAndSayWhy() async throws {
        let dispatcher = Dispatcher(configuration: configuration, keys: keys)
        await #expect(throws: QueueError.self) { try await dispatcher.enqueue(Scalar.self, 5) }
        do {
            _ = try await dispatcher.enqueue(batch: [
                try .init(Welcome.self, .init(userID: 1, template: "ok")),
                try .init(Welcome.self, .init(userID: 2, template: "bad queue"), options: .init(queue: "no spaces")),
            ])
            Issue.record("a batch with an invalid queue name was accepted")
        } catch {
            #expect("\(error)".contains("'no spaces' is not a valid queue name"))
        }
        do {
            _ = try await dispatcher.enqueue(Welcome.self, .init(userID: 1, template: "x"), options: .init(maxAttempts: 0))
            Issue.record("max_attempts 0 was accepted")
        } catch {
            #expect("\(error)".contains("max_attempts must be between 1 and 1000, got 0"))
        }
        #expect(try ready("mail").isEmpty)
    }

    @Test func anAsyncEnqueueToAnUnreachableServerFailsWithTheRedisErrorKept() async throws {
        let dispatcher = Dispatcher(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1"), keys: keys)
        do {
            _ = try await dispatcher.enqueue(Tick.self, .init())
            Issue.record("an enqueue to a closed port succeeded")
        } catch {
            guard case .redis(let underlying) = error else { Issue.record("not a Redis error: \(error)"); return }
            #expect(underlying.isConnectionError)
        }
        // The pool-only dispatcher's async path reports it the same way.
        let pooled = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1"), capacity: 1), keys: keys)
        await #expect(throws: QueueError.self) { try await pooled.enqueue(Tick.self, .init()) }
    }
}
