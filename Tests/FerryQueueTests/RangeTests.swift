import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Numbers from outside are range-checked before any conversion: nonsense is a clear error.
@Suite struct RangeTests {
    func payload(_ extra: String) -> [UInt8] {
        Array(#"{"id":"j1","type":"ferry.noop","queue":"default","args":{},"attempt":1,"max_attempts":3,"created_at":1.7e9,"enqueued_at":1.7e9\#(extra)}"#.utf8)
    }

    @Test(arguments: [
        (#","timeout_s":1e300"#, "timeout_s"), (#","timeout_s":9.3e15"#, "timeout_s"), (#","timeout_s":-1"#, "timeout_s"),
        (#","timeout_s":0"#, "timeout_s"), (#","run_at":1e300"#, "run_at"), (#","run_at":-1e300"#, "run_at"),
        (#","tick":1e20"#, "tick"),
    ])
    func outOfRangeNumbersMakeAPayloadMalformed(extra: String, field: String) throws {
        #expect(throws: QueueError.self) { try Job.decode(payload(extra)) }
        do {
            _ = try Job.decode(payload(extra))
        } catch {
            #expect(error.description.contains("field '\(field)'"), "\(error)")
        }
    }

    @Test func wellFormedNumbersDecode() throws {
        let job = try Job.decode(payload(#","timeout_s":2.5,"run_at":1800000000.25"#))
        #expect(job.timeoutS == 2.5)
        #expect(job.runAt == 1_800_000_000.25)
    }

    @Test func attemptsOutOfRangeAreMalformed() {
        let bytes = Array(#"{"id":"j1","type":"t","queue":"q","args":{},"attempt":0,"max_attempts":3,"created_at":1,"enqueued_at":1}"#.utf8)
        #expect(throws: QueueError.self) { try Job.decode(bytes) }
    }

    @Test func theDispatcherRefusesNonsense() throws {
        let pool = RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1)
        let dispatcher = Dispatcher(redis: pool, keys: QueueKeyspace(namespace: "range-\(UUID().uuidString.prefix(8))"))
        let cases: [(EnqueueOptions, String)] = [
            (EnqueueOptions(runAt: Date(timeIntervalSince1970: 1e300)), "run_at"),
            (EnqueueOptions(timeout: .seconds(Int64.max / 4)), "timeout_s"),
            (EnqueueOptions(queue: "orders:high"), "queue name"),
            (EnqueueOptions(queue: "{tag}"), "queue name"),
        ]
        for (options, field) in cases {
            do {
                try dispatcher.enqueue(.init(type: "ferry.noop", options: options))
                Issue.record("enqueued with \(options)")
            } catch {
                #expect(error.description.contains(field), "\(error)")
            }
        }
        #expect(throws: QueueError.self) { try dispatcher.enqueue(.init(type: "bad type")) }
    }
}
