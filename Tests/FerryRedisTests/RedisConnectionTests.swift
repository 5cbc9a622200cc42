import FerryRedis
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// Against the shared test Redis (`ops/test`). Keys are unique per test so tests run in parallel.
@Suite struct RedisConnectionTests {
    let connection: RedisConnection
    let prefix = "ferry-test:\(UUID().uuidString):"

    init() throws {
        connection = try RedisConnection(url: TestEnvironment.redisURL)
    }

    @Test func typedReplies() throws {
        #expect(try connection.command("SET", .string(prefix + "s"), "value") == .status("OK"))
        #expect(try connection.command("GET", .string(prefix + "s")).string == "value")
        #expect(try connection.command("GET", .string(prefix + "missing")) == .null)
        #expect(try connection.command("INCRBY", .string(prefix + "n"), 41) == .integer(41))
        try connection.command("RPUSH", .string(prefix + "l"), "a", "b", "c")
        let list = try connection.command("LRANGE", .string(prefix + "l"), 0, -1)
        #expect(list.array?.compactMap(\.string) == ["a", "b", "c"])
    }

    @Test func valuesAreBinarySafe() throws {
        let bytes: [UInt8] = [0, 1, 2, 0x0D, 0x0A, 0xFF, 0, 0x24]
        try connection.command("SET", .string(prefix + "bin"), .bytes(bytes))
        #expect(try connection.command("GET", .string(prefix + "bin")).bytes == bytes)
        #expect(try connection.command("STRLEN", .string(prefix + "bin")) == .integer(8))
    }

    @Test func errorRepliesAreThrownWithTheirCode() throws {
        try connection.command("SET", .string(prefix + "str"), "x")
        do {
            try connection.command("LPUSH", .string(prefix + "str"), "y")
            Issue.record("LPUSH on a string succeeded")
        } catch {
            #expect(error.serverErrorCode == "WRONGTYPE")
            #expect(!error.isConnectionError)
        }
        // The connection is still good after an error reply.
        try connection.ping()
    }

    @Test func pipelineSendsManyCommandsInOneRoundTrip() throws {
        let key = RedisArgument.string(prefix + "pipe")
        let commands = (0..<5000).map { [RedisArgument.string("RPUSH"), key, RedisArgument($0)] }
        let replies = try connection.pipeline(commands)
        #expect(replies.count == 5000)
        #expect(replies.last == .integer(5000))
        #expect(try connection.command("LLEN", key) == .integer(5000))
    }

    @Test func pipelineKeepsErrorRepliesInPlace() throws {
        try connection.command("SET", .string(prefix + "p"), "text")
        let replies = try connection.pipeline([
            ["INCR", .string(prefix + "counter")],
            ["LPUSH", .string(prefix + "p"), "x"],
            ["INCR", .string(prefix + "counter")],
        ])
        #expect(replies[0] == .integer(1))
        guard case .error(let message) = replies[1] else { Issue.record("expected an error reply"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(replies[2] == .integer(2))
    }

    @Test func scriptsRunByEVALSHAAndSurviveAFlushedCache() throws {
        let script = RedisScript(name: "move-and-count", source: """
            local value = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
            if value then redis.call('INCR', KEYS[3]) end
            return value
            """)
        let keys: [RedisArgument] = [.string(prefix + "{q}:a"), .string(prefix + "{q}:b"), .string(prefix + "{q}:moved")]
        try connection.command("RPUSH", keys[0], "job-1", "job-2")
        #expect(try connection.run(script, keys: keys).string == "job-1")
        try connection.command("SCRIPT", "FLUSH")
        #expect(try connection.run(script, keys: keys).string == "job-2")
        #expect(try connection.run(script, keys: keys) == .null)
        #expect(try connection.command("GET", keys[2]).int == 2)
    }

    @Test func blockingCommandLongerThanTheSocketTimeoutKeepsTheConnection() throws {
        var configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        configuration.commandTimeout = .milliseconds(200)
        let short = try RedisConnection(configuration: configuration)
        let reply = try short.blockingCommand(
            ["BLMOVE", .string(prefix + "empty"), .string(prefix + "dst"), "LEFT", "RIGHT", "0.5"],
            blockFor: .milliseconds(500)
        )
        #expect(reply == .null)
        try short.ping()
        try connection.command("RPUSH", .string(prefix + "full"), "job")
        let moved = try short.blockingCommand(
            ["BLMOVE", .string(prefix + "full"), .string(prefix + "dst"), "LEFT", "RIGHT", "1"], blockFor: .seconds(1))
        #expect(moved.string == "job")
    }

    @Test func aKilledConnectionReconnectsOnTheNextCommand() throws {
        let id = try connection.command("CLIENT", "ID")
        let other = try RedisConnection(url: TestEnvironment.redisURL)
        try other.command("CLIENT", "KILL", "ID", .string(String(id.int!)))
        do {
            try connection.ping()
            Issue.record("a command on a killed connection succeeded")
        } catch {
            #expect(error.isConnectionError, "\(error)")
            #expect(error.description.contains("127.0.0.1"))
        }
        try connection.ping()
        #expect(try connection.command("CLIENT", "ID").int != id.int)
    }

    @Test func serverDownIsAClearConnectionError() throws {
        let port = try FreePort.find()
        do {
            _ = try RedisConnection(url: "redis://:topsecret@127.0.0.1:\(port)")
            Issue.record("connected to a port nobody listens on")
        } catch {
            guard case .connectionFailed(let endpoint, let reason) = error else { Issue.record("\(error)"); return }
            #expect(endpoint == "127.0.0.1:\(port)")
            #expect(reason.contains("refused"))
            #expect(error.description == "cannot connect to Redis at 127.0.0.1:\(port): \(reason)")
            #expect(!error.description.contains("topsecret"))
        }
    }

    @Test func poolSharesConnectionsBetweenThreads() throws {
        let pool = RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 3)
        let key = RedisArgument.string(prefix + "pooled")
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<200 {
                do { try pool.withConnection { try $0.command("INCR", key) } } catch { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(try connection.command("GET", key).int == 1600)
        #expect(pool.idleCount <= 3)
    }
}
