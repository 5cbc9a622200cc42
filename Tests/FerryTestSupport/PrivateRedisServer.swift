import FerryProcess
import Foundation

/// A redis-server child process of the test, on its own port, for tests that must stop,
/// restart or configure a server without disturbing the shared one.
public final class PrivateRedisServer: @unchecked Sendable {
    // @unchecked Sendable: used from one test at a time; `pid` is only touched by its owner.
    public let port: Int
    public let extraArguments: [String]
    private var pid: pid_t = 0
    private let directory: String

    public init(extraArguments: [String] = []) throws {
        self.port = try FreePort.find()
        self.extraArguments = extraArguments
        self.directory = NSTemporaryDirectory() + "ferry-redis-\(port)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server and waits until it serves commands: accepting connections is not
    /// enough, since a server with an append-only file answers `-LOADING` while it replays it.
    public func start() throws {
        let arguments = [
            TestEnvironment.redisServer, "--port", String(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", directory, "--daemonize", "no", "--loglevel", "warning",
            "--logfile", directory + "/redis.log",
        ] + extraArguments
        let child = try Spawn.run(arguments)
        pid = child
        for _ in 0..<200 {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                // It exited: most likely the port was taken meanwhile. Say so instead of talking
                // to whatever now listens there.
                pid = 0
                throw POSIXError(.EADDRINUSE)
            }
            if FreePort.answersPing(port) { return }
            usleep(25_000)
        }
        throw POSIXError(.ETIMEDOUT)
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        pid = 0
    }
}

/// Finds loopback ports for test servers.
public enum FreePort {
    /// A TCP port on 127.0.0.1 that nothing uses right now, taken below the kernel's ephemeral
    /// range (32768+), so that the many outgoing connections of a test run cannot grab it while a
    /// test server is being restarted on it.
    public static func find() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000..<32_000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw POSIXError(.EMFILE) }
            defer { close(fd) }
            var address = loopback(port: port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// Whether a Redis server on 127.0.0.1:`port` serves commands: it answers `PING` within half
    /// a second with anything but `-LOADING` (which a server replaying its append-only file
    /// sends). A server with a password answers `-NOAUTH`, and that counts as serving.
    public static func answersPing(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard write(fd, ping, ping.count) == ping.count else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &reply, reply.count)
        guard count >= 2, reply[count - 2] == UInt8(ascii: "\r"), reply[count - 1] == UInt8(ascii: "\n") else { return false }
        return !reply[0..<count].starts(with: Array("-LOADING".utf8))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
