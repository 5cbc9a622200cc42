import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// A job's store: its values, under its id, in its queue's slot, for the time it asks.
@Suite struct JobStoreTests {
    let keys = QueueKeyspace(namespace: "store-\(UUID().uuidString.prefix(8))")
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(configuration: try RedisConfiguration(url: TestEnvironment.redisURL))
    }

    @Test func valuesAreKeptPerJobForTheirTTLAndDropped() throws {
        let mine = JobStore(keys: keys, queue: "claude", jobID: "j1")
        let other = JobStore(keys: keys, queue: "claude", jobID: "j2")
        #expect(try mine.value("answer", on: redis) == nil)
        try mine.set("answer", to: Array("42".utf8), for: .seconds(60), on: redis)
        #expect(try mine.value("answer", on: redis) == Array("42".utf8))
        #expect(try other.value("answer", on: redis) == nil)
        let ttl = try redis.command("PTTL", .string(keys.stored("claude", id: "j1", name: "answer"))).int ?? -1
        #expect((1...60_000).contains(ttl))
        try mine.remove("answer", on: redis)
        #expect(try mine.value("answer", on: redis) == nil)
        try mine.set("short", to: [1], for: .milliseconds(20), on: redis)
        #expect(try eventually(timeout: 5) { try mine.value("short", on: redis) == nil })
    }

    @Test func namesAndLifetimesOutsideTheRulesAreRefused() throws {
        let store = JobStore(keys: keys, queue: "q", jobID: "j")
        for name in ["", "a:b", "{slot}", "with space", String(repeating: "x", count: 101)] {
            #expect(throws: QueueError.self, "\(name)") { try store.set(name, to: [1], for: .seconds(1), on: redis) }
        }
        #expect(throws: QueueError.self) { try store.set("n", to: [1], for: .zero, on: redis) }
        #expect(throws: QueueError.self) { try store.set("n", to: [1], for: .seconds(31 * 86_400), on: redis) }
        #expect(try redis.command("KEYS", .string(keys.namespace + ":*")).array?.isEmpty == true)
    }
}
