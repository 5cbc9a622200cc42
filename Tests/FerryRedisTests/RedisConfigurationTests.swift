import FerryRedis
import Testing

@Suite struct RedisConfigurationTests {
    @Test func parsesHostPortDatabaseAndPassword() throws {
        let configuration = try RedisConfiguration(url: "redis://:s3cret@cache.internal:6390/4")
        #expect(configuration.endpoint == .tcp(host: "cache.internal", port: 6390))
        #expect(configuration.password == "s3cret")
        #expect(configuration.username == nil)
        #expect(configuration.database == 4)
        #expect(!configuration.description.contains("s3cret"))
    }

    @Test func parsesACLUserAndDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://worker:pa%40ss@localhost")
        #expect(configuration.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(configuration.username == "worker")
        #expect(configuration.password == "pa@ss")
        #expect(configuration.database == 0)
    }

    @Test func parsesUnixSocket() throws {
        let configuration = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=2")
        #expect(configuration.endpoint == .unix(path: "/run/redis/redis.sock"))
        #expect(configuration.database == 2)
    }

    @Test(arguments: [
        ("http://localhost:6379", "unsupported scheme"),
        ("redis://localhost/abc", "database must be a number"),
        ("redis://:hunter2@localhost/?color=blue", "unknown parameter 'color'"),
        ("rediss://localhost", "TLS"),
    ])
    func rejectsBadURLsWithAReason(url: String, reason: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
            #expect(!error.description.contains("hunter2"), "the password leaked: \(error)")
        }
    }
}
