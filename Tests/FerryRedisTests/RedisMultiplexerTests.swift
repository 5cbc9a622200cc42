import FerryRedis
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// The shared, automatically pipelined connection, against a Redis of its own (so that the
/// server's read count is this test's alone).
@Suite struct RedisMultiplexerTests {
    /// Runs `body` on `count` threads of their own at once (`concurrentPerform` would run only as
    /// many at a time as there are cores) and waits for them all.
    func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread.detachNewThread {
                body(index)
                group.leave()
            }
        }
        group.wait()
    }

    /// Redis's count of reads from clients (INFO stats).
    func readsProcessed(_ connection: RedisConnection) throws -> Int {
        let info = try connection.command("INFO", "stats").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") } ?? ""
        return Int(line.split(separator: ":").last ?? "") ?? -1
    }

    @Test func concurrentCallersShareRoundTripsAndEachGetsItsOwnReplies() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url)
        let shared = RedisMultiplexer(configuration: configuration)
        let observer = try RedisConnection(configuration: configuration)
        let threads = 8, calls = 500
        let readsBefore = try readsProcessed(observer)
        let wrong = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        onThreads(threads) { thread in
            for call in 0..<calls {
                do {
                    let value = "\(thread)-\(call)"
                    // A transaction in one call: its commands stay contiguous on the wire, so the
                    // two increments inside it are consecutive whatever the other threads send.
                    let replies = try shared.pipeline([
                        ["SET", .string("key:\(thread)"), .string(value)], ["GET", .string("key:\(thread)")],
                        ["MULTI"], ["INCR", "counter"], ["INCR", "counter"], ["EXEC"],
                    ])
                    let increments = replies[5].array?.compactMap(\.int) ?? []
                    if replies.count != 6 || replies[1].string != value || increments.count != 2 || increments[1] != increments[0] + 1 {
                        wrong.add(1, ordering: .relaxed)
                    }
                } catch {
                    failed.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failed.load(ordering: .relaxed) == 0)
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(try observer.command("GET", "counter").int == threads * calls * 2)
        // 4,000 calls: far fewer reads than calls means they shared writes (each call is one
        // write of six commands when it travels alone). One read more is the INFO itself.
        let reads = try readsProcessed(observer) - readsBefore - 1
        #expect(reads < threads * calls * 3 / 4, "\(reads) reads for \(threads * calls) calls")
        #expect(reads > 0)
    }

    @Test func errorRepliesStayWithTheirCallerAndScriptsSurviveAFlushedCache() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let shared = RedisMultiplexer(configuration: try RedisConfiguration(url: server.url))
        try shared.command("SET", "text", "abc")
        let replies = try shared.pipeline([["INCR", "text"], ["GET", "text"]])
        #expect((try? replies[0].check()) == nil)
        #expect(replies[1].string == "abc")
        #expect(throws: RedisError.self) { try shared.command("INCR", "text") }

        let script = RedisScript(name: "double", source: "return tonumber(ARGV[1]) * 2")
        #expect(try shared.run(script, arguments: ["21"]).int == 42)
        try shared.command("SCRIPT", "FLUSH")
        #expect(try shared.run(script, arguments: ["4"]).int == 8)
    }

    @Test func blockingAndStatefulCommandsAreRefusedBeforeTheyAreSent() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let shared = RedisMultiplexer(configuration: try RedisConfiguration(url: server.url))
        for command: [RedisArgument] in [["blpop", "list", "1"], ["SELECT", "1"], ["XREAD", "BLOCK", "100", "STREAMS", "s", "$"], ["CLIENT", "REPLY", "OFF"], ["WATCH", "k"]] {
            #expect(throws: RedisError.self) { try shared.pipeline([["SET", "before", "1"], command]) }
        }
        // Nothing of a refused call was sent; the connection serves the next caller as before.
        #expect(try shared.command("EXISTS", "before").int == 0)
        #expect(try shared.command("XREAD", "COUNT", "1", "STREAMS", "s", "0") == .null)
        #expect(try shared.command("CLIENT", "ID").int != nil)
        let refusal = Result { () throws(RedisError) in try shared.command("BRPOP", "list", "1") }
        guard case .failure(let error) = refusal else { Issue.record("BRPOP went over the shared connection"); return }
        #expect(error == .notShareable(command: "BRPOP"))
        #expect(error.description.contains("withConnection"), "\(error)")
    }

    @Test func refusalIgnoresLetterCaseAndLetsLookalikesThrough() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let shared = RedisMultiplexer(configuration: try RedisConfiguration(url: server.url))
        func refusal(_ command: [RedisArgument]) -> String? {
            do {
                try shared.pipeline([command])
                return nil
            } catch .notShareable(let name) {
                return name
            } catch {
                return nil  // the server's own answer (an unknown command, wrong arguments): it was sent
            }
        }
        #expect(refusal(["bLpOp", "list", "1"]) == "BLPOP")
        #expect(refusal([.bytes(Array("Watch".utf8)), "k"]) == "WATCH")
        #expect(refusal(["xreadgroup", "GROUP", "g", "c", "block", "0", "STREAMS", "s", ">"]) == "XREADGROUP BLOCK")
        #expect(refusal(["client", "tracking", "on"]) == "CLIENT TRACKING")
        // Names that only look alike, and the same commands without their blocking option, are sent.
        for sent: [RedisArgument] in [["BLPOPX", "l"], ["WAI"], ["wat{h", "k"], ["SET", "BLOCK", "1"], ["XREAD", "COUNT", "1", "STREAMS", "s", "0"], ["CLIENT", "ID"], ["CLIENT"]] {
            #expect(refusal(sent) == nil, "\(sent)")
        }
        #expect(try shared.command("GET", "BLOCK").string == "1")
    }

    @Test func aKilledConnectionFailsItsCallersAndTheNextCallReconnects() throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url)
        let shared = RedisMultiplexer(configuration: configuration)
        let id = try shared.command("CLIENT", "ID").int ?? -1
        try RedisConnection(configuration: configuration).command("CLIENT", "KILL", "ID", .string(String(id)))
        do {
            try shared.command("PING")
            Issue.record("a command on a killed connection succeeded")
        } catch {
            #expect(error.isConnectionError, "\(error)")
        }
        #expect(try shared.command("PING") == .status("PONG"))
        #expect(try shared.command("CLIENT", "ID").int != id)
        // Many callers at once after the break: all succeed.
        let failed = Atomic<Int>(0)
        onThreads(4) { _ in
            for _ in 0..<100 where (try? shared.command("INCR", "after")) == nil { failed.add(1, ordering: .relaxed) }
        }
        #expect(failed.load(ordering: .relaxed) == 0)
        #expect(try shared.command("GET", "after").int == 400)
    }
}
