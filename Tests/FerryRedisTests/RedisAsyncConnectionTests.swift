import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Async commands of many tasks go through one connection driven by its I/O thread.
@Suite struct RedisAsyncConnectionTests {
    @Test func manyConcurrentTasksShareOneConnectionAndEachGetsItsOwnReply() async throws {
        let server = try PrivateRedisServer()
        let observer = try RedisConnection(url: server.url)
        func connectionsReceived() throws -> Int {
            let info = try observer.command("INFO", "stats").string ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_connections_received:") }
            return line.flatMap { Int($0.split(separator: ":")[1]) } ?? -1
        }
        let before = try connectionsReceived()
        let connection = RedisAsyncConnection(configuration: try RedisConfiguration(url: server.url))
        let replies = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for task in 0..<200 {
                group.addTask {
                    var last = 0
                    for _ in 0..<20 { last = try await connection.command(["INCR", .string("counter:\(task)")]).int ?? -1 }
                    return (task, last)
                }
            }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        // Every task saw its own counter reach 20: replies went to the task that sent the command.
        #expect(replies.count == 200 && replies.values.allSatisfy { $0 == 20 })
        // 4,000 commands from 200 tasks at once, over a single connection (a pool would open several).
        #expect(try connectionsReceived() - before == 1)
        // A refused command is not sent, and the connection carries on.
        await #expect(throws: RedisError.self) { try await connection.command(["BLPOP", "x", "1"]) }
        #expect(try await connection.command(["GET", "counter:7"]).string == "20")
    }
}
