import FerryRedis
import FerryTestSupport
@testable import FerryWorker
import Foundation
import Synchronization
import Testing

/// Async attempts run together on one thread: all on the caller's thread, their Redis commands in
/// one write, errors to every task, cancellation, calls from outside the span.
@Suite struct JobLoopTests {
    /// Redis's count of reads from clients (INFO stats).
    func readsProcessed(_ connection: RedisConnection) throws -> Int {
        let info = try connection.command("INFO", "stats").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") } ?? ""
        return Int(line.split(separator: ":").last ?? "") ?? -1
    }

    @Test func tasksRunOnTheCallersThreadAndTheirCommandsShareOneRoundTrip() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url)
        let observer = try RedisConnection(configuration: configuration)
        let loop = JobLoop()
        let pipeline = RedisTaskPipeline(configuration: configuration, fallback: RedisMultiplexer(configuration: configuration), wake: { loop.wake() })
        let caller = pthread_self()
        let elsewhere = Atomic<Int>(0)
        let count = 300
        // Warm up: the pipeline's own connection is opened by its first flush.
        _ = loop.runTogether(count: 1, pipeline: pipeline) { _, _ in try? await pipeline.command(["PING"]) }
        let readsBefore = try readsProcessed(observer)

        let replies = loop.runTogether(count: count, pipeline: pipeline) { index, _ -> (Int?, String?) in
            if pthread_equal(pthread_self(), caller) == 0 { elsewhere.add(1, ordering: .relaxed) }
            let got = try? await pipeline.pipeline([["INCRBY", .string("n:\(index)"), RedisArgument(index)], ["GET", .string("n:\(index)")]])
            if pthread_equal(pthread_self(), caller) == 0 { elsewhere.add(1, ordering: .relaxed) }
            return (got?[0].int, got?[1].string)
        }
        let reads = try readsProcessed(observer) - readsBefore
        #expect(elsewhere.load(ordering: .relaxed) == 0)
        #expect(replies.count == count)
        for (index, reply) in replies.enumerated() {
            #expect(reply.0 == index && reply.1 == "\(index)", "task \(index) got \(reply)")
        }
        // 300 tasks' 600 commands went in one write; Redis read them in a few reads (its buffer
        // takes 16 KB at a time), not one per task. The observer's own INFO is one of them.
        #expect(reads <= 5, "\(reads) reads for \(count) tasks")
    }

    @Test func aBrokenConnectionFailsEveryWaitingTaskAndTheNextFlushReconnects() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url)
        let loop = JobLoop()
        let pipeline = RedisTaskPipeline(configuration: configuration, fallback: RedisMultiplexer(configuration: configuration), wake: { loop.wake() })
        let first = loop.runTogether(count: 2, pipeline: pipeline) { _, _ in try? await pipeline.command(["PING"]).string }
        #expect(first == ["PONG", "PONG"])
        server.stop()
        let failed = loop.runTogether(count: 20, pipeline: pipeline) { _, _ -> String in
            do {
                _ = try await pipeline.command(["INCR", "x"])
                return "ran"
            } catch {
                return "\(error)"
            }
        }
        #expect(failed.allSatisfy { $0 != "ran" && !$0.isEmpty }, "\(failed)")
        try server.start()
        let again = loop.runTogether(count: 3, pipeline: pipeline) { _, _ in try? await pipeline.command(["INCR", "x"]).int }
        #expect(Set(again.compactMap { $0 }) == [1, 2, 3])
    }

    @Test func blockingCommandsAreRefusedBeforeAnythingIsSent() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:1")  // nothing listens: nothing may be sent
        let loop = JobLoop()
        let pipeline = RedisTaskPipeline(configuration: configuration, fallback: RedisMultiplexer(configuration: configuration), wake: { loop.wake() })
        let refused = loop.runTogether(count: 1, pipeline: pipeline) { _, _ -> String in
            do {
                _ = try await pipeline.command(["blpop", "inbox", "1"])
                return "sent"
            } catch {
                return "\(error)"
            }
        }
        #expect(refused[0].contains("BLPOP"), "\(refused[0])")
    }

    @Test func aCancelledTaskWakesFromItsSleepAndTheOthersFinish() throws {
        let loop = JobLoop()
        let started = ContinuousClock.now
        let outcomes = loop.runTogether(count: 3, pipeline: nil) { index, cancelTask -> String in
            if index == 0 {
                // Cancelled from another thread while it sleeps.
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 0.1)
                    cancelTask()
                }
                do {
                    try await Task.sleep(for: .seconds(60))
                    return "slept"
                } catch {
                    return "cancelled"
                }
            }
            try? await Task.sleep(for: .milliseconds(10 * index))
            return "done"
        }
        #expect(outcomes == ["cancelled", "done", "done"])
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func callsFromOutsideASpanGoOverTheSharedConnection() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url)
        let pipeline = RedisTaskPipeline(configuration: configuration, fallback: RedisMultiplexer(configuration: configuration), wake: {})
        // No loop drives this pipeline: the call must not wait for a flush that never comes.
        #expect(try await pipeline.command(["INCR", "outside"]).int == 1)
        #expect(!pipeline.hasPending)
    }
}
