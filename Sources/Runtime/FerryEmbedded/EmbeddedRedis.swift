import FerryProcess
import FerryRedis
import Foundation
public import Logging

/// Starts Redis for `ferry up`: bound to 127.0.0.1 with a generated password, data under
/// `<data>/redis` with an append-only file, configuration (password included) in a 0600 file —
/// never on a command line, where `ps` would show it.
package enum EmbeddedRedis {
    /// Starts Redis on `port` (or finds the one already running there with this directory's
    /// password) and returns it once it answers.
    public static func start(in data: DataDirectory, port: Int, logger: Logger) throws(EmbeddedError) -> EmbeddedServer {
        let password = try data.secret("redis.password")
        let url = "redis://:\(password)@127.0.0.1:\(port)/0"
        if answers(url) {
            logger.info("using the Redis already running on 127.0.0.1:\(port)")
            return EmbeddedServer(name: "Redis", url: url, process: nil, stopSignal: SIGTERM, logger: logger)
        }
        guard let server = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first(where: FileManager.default.isExecutableFile) else {
            throw .notInstalled("redis-server")
        }
        let directory = data.path + "/redis"
        try DataDirectory.makeDirectory(directory, mode: 0o700)
        let configuration = """
            port \(port)
            bind 127.0.0.1
            protected-mode yes
            requirepass \(password)
            dir \(directory)
            daemonize no
            pidfile \(data.path)/redis.pid
            appendonly yes
            appendfsync everysec
            save ""

            """
        let file = data.path + "/redis.conf"
        try DataDirectory.refuseLink(file)
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .system("cannot write \(file): \(String(cString: strerror(errno)))") }
        let bytes = Array(configuration.utf8)
        let written = write(descriptor, bytes, bytes.count)
        fchmod(descriptor, 0o600)
        close(descriptor)
        guard written == bytes.count else { throw .system("cannot write \(file)") }

        let process: ChildProcess
        do {
            process = try ChildProcess(EmbeddedServer.parentDeath("TERM") + [server, file], logPath: data.path + "/redis.log", ownProcessGroup: true)
        } catch {
            throw .system("cannot start \(server): \(error)")
        }
        try EmbeddedServer.wait(for: "Redis", process: process, timeout: .seconds(20)) { answers(url) }
        logger.info("embedded Redis listening on redis://127.0.0.1:\(port) (data in \(directory))")
        return EmbeddedServer(name: "Redis", url: url, process: process, stopSignal: SIGTERM, logger: logger)
    }

    static func answers(_ url: String) -> Bool {
        guard var configuration = try? RedisConfiguration(url: url) else { return false }
        configuration.connectTimeout = .milliseconds(500)
        configuration.reconnectWindow = .zero
        return (try? RedisConnection(configuration: configuration).ping()) != nil
    }
}
