import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// Failures that need a server of their own: wrong password, a restart, a slow server.
@Suite struct RedisServerFailureTests {
    @Test func wrongPasswordIsRefusedWithoutRevealingIt() throws {
        let server = try PrivateRedisServer(extraArguments: ["--requirepass", "correct-horse"])
        do {
            _ = try RedisConnection(url: "redis://:battery-staple@127.0.0.1:\(server.port)")
            Issue.record("a wrong password was accepted")
        } catch {
            guard case .authenticationFailed(_, let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("WRONGPASS"))
            #expect(!error.description.contains("battery-staple"))
        }
        let good = try RedisConnection(url: "redis://:correct-horse@127.0.0.1:\(server.port)/3")
        try good.command("SET", "k", "v")
        #expect(try good.command("GET", "k").string == "v")
    }

    @Test func clientRecoversWhenTheServerRestarts() throws {
        let server = try PrivateRedisServer()
        var configuration = try RedisConfiguration(url: server.url)
        configuration.reconnectWindow = .seconds(10)
        let connection = try RedisConnection(configuration: configuration)
        try connection.command("SET", "before", "1")

        server.stop()
        let restarted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            usleep(400_000)
            try? server.start()
            restarted.signal()
        }
        // The command that meets the dead connection fails; the following one reconnects,
        // waiting with backoff for the server to come back.
        var outcomes: [Bool] = []
        for _ in 0..<2 {
            do { try connection.command("SET", "after", "2"); outcomes.append(true) } catch {
                #expect(error.isConnectionError, "\(error)")
                outcomes.append(false)
            }
        }
        restarted.wait()
        #expect(outcomes.last == true, "the client did not recover: \(outcomes)")
        #expect(try connection.command("GET", "after").string == "2")
    }

    @Test func aSlowReplyTimesOutAndTheConnectionRecovers() throws {
        let server = try PrivateRedisServer(extraArguments: ["--enable-debug-command", "yes"])
        var configuration = try RedisConfiguration(url: server.url)
        configuration.commandTimeout = .milliseconds(200)
        let connection = try RedisConnection(configuration: configuration)
        do {
            try connection.command("DEBUG", "SLEEP", "1")
            Issue.record("a 1 s command finished within a 200 ms timeout")
        } catch {
            guard case .timeout(let endpoint, _) = error else { Issue.record("\(error)"); return }
            #expect(endpoint == "127.0.0.1:\(server.port)")
        }
        // The server is still asleep in DEBUG SLEEP for most of a second: the connection
        // reconnects and answers as soon as the server does.
        #expect(eventually(timeout: 10) { (try? connection.ping()) != nil })
        try connection.ping()
    }
}
