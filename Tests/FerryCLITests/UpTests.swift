import FerryHTTP
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// `ferry up` on a machine with nothing configured: it starts its own Redis and PostgreSQL, runs
/// the platform, and stops all of it on SIGTERM.
@Suite struct UpTests {
    @Test func upRunsEverythingAndStopsItAllOnSIGTERM() throws {
        let data = NSTemporaryDirectory() + "ferry-up-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (redisPort, postgresPort, adminPort) = (try FreePort.find(), try FreePort.find(), try FreePort.find())
        let up = try ChildProcess([
            TestEnvironment.ferryBinary, "up", "--data", data, "--redis-port", "\(redisPort)", "--postgres-port", "\(postgresPort)",
            "--processes", "1", "--concurrency", "2", "--shutdown-timeout", "5",
        ], environment: [
            // Nothing configured: an empty value counts as unset.
            "FERRY_REDIS_URL": "", "DATABASE_URL": "", "FERRY_ADMIN_TOKEN": "", "FERRY_NAMESPACE": "up-test",
            "FERRY_ADMIN_ADDR": "127.0.0.1:\(adminPort)",
        ])
        defer { up.signal(SIGKILL); up.waitForExit(timeout: 10) }

        // The admin endpoint answers once everything has started.
        let base = "http://127.0.0.1:\(adminPort)"
        let started = eventually(timeout: 90) {
            (try? FerryHTTPClient().execute(FerryHTTPClient.Request(url: base + "/healthz")))?.status == 200 || up.waitForExit(timeout: 0) != nil
        }
        #expect(started && up.waitForExit(timeout: 0) == nil, "ferry up did not start:\n\(up.output.suffix(3000))")

        // Generated secrets, closed to other users; the dashboard link is printed, the passwords are not.
        let secrets = ["redis.password", "postgres.password", "admin.token"].map { data + "/secrets/" + $0 }
        for file in secrets {
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) ?? -1
            #expect(mode == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
        let secretsMode = (try FileManager.default.attributesOfItem(atPath: data + "/secrets")[.posixPermissions] as? Int) ?? -1
        #expect(secretsMode == 0o700)
        let redisPassword = try String(contentsOfFile: secrets[0], encoding: .utf8)
        let postgresPassword = try String(contentsOfFile: secrets[1], encoding: .utf8)
        let token = try String(contentsOfFile: secrets[2], encoding: .utf8)
        #expect(up.output.contains("dashboard login link"))
        for secret in [redisPassword, postgresPassword, token] { #expect(!up.output.contains(secret), "a secret appears in the output") }

        // The embedded servers need their passwords; a job enqueued there runs on the pool.
        let redisURL = "redis://:\(redisPassword)@127.0.0.1:\(redisPort)/0"
        let withoutPassword = try RedisConnection(configuration: RedisConfiguration(url: "redis://127.0.0.1:\(redisPort)/0"))
        #expect(throws: RedisError.self) { try withoutPassword.command("GET", "x") }
        let keys = QueueKeyspace(namespace: "up-test")
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: redisURL), capacity: 1), keys: keys)
        try dispatcher.enqueue(.init(type: "ferry.noop", args: .object([:])))
        let redis = try RedisConnection(configuration: RedisConfiguration(url: redisURL))
        #expect(eventually(timeout: 30) { (try? QueueAdmin(keys: keys).queues.stats(on: redis).processed) == 1 }, "\(up.output.suffix(3000))")
        // PostgreSQL has the jobs' schema (ferry up applied the migrations).
        let postgres = try PostgresConnection(url: "postgres://ferry:\(postgresPassword)@127.0.0.1:\(postgresPort)/ferry")
        #expect(try postgres.query("SELECT count(*) AS n FROM schema_migrations").first?.decode("n", as: Int.self) ?? 0 > 0)
        // The API needs the generated token.
        #expect(try FerryHTTPClient().execute(FerryHTTPClient.Request(url: base + "/api/v1/stats")).status == 401)
        let authorized = try FerryHTTPClient().execute(FerryHTTPClient.Request(url: base + "/api/v1/stats", headers: ["Authorization": "Bearer \(token)"]))
        #expect(authorized.status == 200)

        // SIGTERM: workers drain, then everything stops, the servers last; exit status 0.
        up.signal(SIGTERM)
        #expect(up.waitForExit(timeout: 60) == 0, "\(up.output.suffix(3000))")
        let output = up.output
        let drained = output.range(of: "worker stopped")?.lowerBound
        let redisStopped = output.range(of: "stopping the embedded Redis")?.lowerBound
        let postgresStopped = output.range(of: "stopping the embedded PostgreSQL")?.lowerBound
        #expect(drained != nil && postgresStopped != nil && redisStopped != nil, "\(output.suffix(3000))")
        if let drained, let postgresStopped, let redisStopped {
            #expect(drained < postgresStopped && postgresStopped < redisStopped, "shutdown out of order:\n\(output.suffix(3000))")
        }
        #expect(throws: RedisError.self) { try RedisConnection(configuration: RedisConfiguration(url: redisURL)).ping() }
        #expect(throws: PostgresError.self) {
            try PostgresConnection(configuration: PostgresConfiguration(
                url: "postgres://ferry:\(postgresPassword)@127.0.0.1:\(postgresPort)/ferry"
            )).query("SELECT 1")
        }
    }

    @Test func killedWithSIGKILLItLeavesNoServerRunning() throws {
        let data = NSTemporaryDirectory() + "ferry-up-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (redisPort, postgresPort, adminPort) = (try FreePort.find(), try FreePort.find(), try FreePort.find())
        let up = try ChildProcess([
            TestEnvironment.ferryBinary, "up", "--data", data, "--redis-port", "\(redisPort)", "--postgres-port", "\(postgresPort)",
            "--processes", "1", "--concurrency", "1",
        ], environment: [
            "FERRY_REDIS_URL": "", "DATABASE_URL": "", "FERRY_NAMESPACE": "up-kill", "FERRY_ADMIN_ADDR": "127.0.0.1:\(adminPort)",
        ])
        defer { up.signal(SIGKILL); up.waitForExit(timeout: 10) }
        let started = eventually(timeout: 90) {
            (try? FerryHTTPClient().execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(adminPort)/healthz")))?.status == 200 || up.waitForExit(timeout: 0) != nil
        }
        #expect(started && up.waitForExit(timeout: 0) == nil, "ferry up did not start:\n\(up.output.suffix(3000))")
        let redisURL = "redis://:\(try String(contentsOfFile: data + "/secrets/redis.password", encoding: .utf8))@127.0.0.1:\(redisPort)/0"
        let postgresURL = "postgres://ferry:\(try String(contentsOfFile: data + "/secrets/postgres.password", encoding: .utf8))@127.0.0.1:\(postgresPort)/ferry"

        // No graceful shutdown at all: the servers get their parent-death signal.
        up.signal(SIGKILL)
        #expect(up.waitForExit(timeout: 10) == 128 + SIGKILL)
        #expect(eventually(timeout: 30) { (try? RedisConnection(configuration: RedisConfiguration(url: redisURL)).ping()) == nil },
                "the embedded Redis outlived ferry up")
        #expect(eventually(timeout: 30) { (try? PostgresConnection(url: postgresURL).query("SELECT 1")) == nil },
                "the embedded PostgreSQL outlived ferry up")
    }
}
