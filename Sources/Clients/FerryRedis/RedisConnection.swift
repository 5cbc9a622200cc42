import CHiredis
import Foundation

/// One connection to Redis over hiredis.
///
/// A connection is owned by one thread at a time (use ``RedisConnectionPool`` to share). Calls
/// block the calling thread, so make them from dedicated threads, not from async tasks.
///
/// When the connection breaks (the server restarts, closes it, or the network drops it), the
/// command that noticed throws ``RedisError/connectionLost(endpoint:reason:)`` and the next command
/// reconnects, retrying with backoff for up to ``RedisConfiguration/reconnectWindow``.
public final class RedisConnection: @unchecked Sendable {
    // @unchecked Sendable: the hiredis context is mutable C state. A connection is used by one
    // thread at a time — the pool lends it exclusively — so no two threads touch it at once.

    public let configuration: RedisConfiguration
    private var context: UnsafeMutablePointer<redisContext>?
    private var socketTimeout: Duration
    /// Scripts sent by ``post(_:keys:arguments:)`` whose replies have not been read yet.
    private var posted: [(script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument])] = []

    /// Connects, authenticates and selects the database; throws at once if the server is unreachable.
    public init(configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        self.socketTimeout = configuration.commandTimeout
        self.context = try Self.open(configuration)
    }

    /// Connects to the server at `url` (see ``RedisConfiguration/init(url:)``).
    public convenience init(url: String) throws(RedisError) {
        try self.init(configuration: RedisConfiguration(url: url))
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Whether the connection is currently open (it may still turn out broken on next use).
    public var isConnected: Bool { context != nil }

    // MARK: Commands

    /// Runs one command and returns its reply; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: RedisArgument...) throws(RedisError) -> RedisReply {
        try command(arguments)
    }

    /// Runs one command and returns its reply; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
        try send(arguments).check()
    }

    /// Runs one command and returns its reply as it is, error replies included.
    ///
    /// After ``post(_:keys:arguments:)``, the command leaves in the same write as anything posted
    /// but not yet sent, and one round trip brings the posted scripts' replies and its own; an
    /// error reply to a posted script is thrown then (this command has run).
    public func send(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
        let context = try connected()
        guard !posted.isEmpty else {
            let raw = Self.withArgv(arguments) { argc, argv, lengths in
                redisCommandArgv(context, argc, argv, lengths)
            }
            guard let raw else { throw failure(context) }
            defer { freeReplyObject(raw) }
            return Self.decode(raw.assumingMemoryBound(to: redisReply.self))
        }
        let status = Self.withArgv(arguments) { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        guard status == REDIS_OK else { throw failure(context) }
        let sent = posted
        let (rerun, firstError) = try readPostedReplies(context)
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(context) }
        let reply = Self.decode(raw.assumingMemoryBound(to: redisReply.self))
        freeReplyObject(raw)
        for index in rerun { try run(sent[index].script, keys: sent[index].keys, arguments: sent[index].arguments) }
        if let firstError { throw firstError }
        return reply
    }

    /// Sends all commands in one write and reads all replies: one round trip for the batch.
    ///
    /// Error replies stay in the result, in place, so one failing command does not hide the others.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let context = try connected()
        if !posted.isEmpty { try confirmPosted() }
        for arguments in commands {
            let status = Self.withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw failure(context) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(context) }
            replies.append(Self.decode(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Runs a blocking command (`BLMOVE`, `BLPOP`, `BZPOPMIN`, …) that may wait up to `blockFor`.
    ///
    /// The socket timeout is raised above the block time for this call only: a socket timeout
    /// shorter than the block time would break the connection.
    public func blockingCommand(_ arguments: [RedisArgument], blockFor: Duration) throws(RedisError) -> RedisReply {
        let context = try connected()
        setSocketTimeout(context, blockFor + configuration.commandTimeout)
        defer {
            if let current = self.context { setSocketTimeout(current, configuration.commandTimeout) }
        }
        return try command(arguments)
    }

    /// Runs a Lua script by EVALSHA, loading it first if the server does not know it yet.
    @discardableResult
    public func run(_ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = []) throws(RedisError) -> RedisReply {
        let sha: String
        if let known = script.sha { sha = known } else { sha = try load(script) }
        let reply = try send(["EVALSHA", .string(sha), RedisArgument(keys.count)] + keys + arguments)
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            // The server lost its script cache (restart, SCRIPT FLUSH): load again, run once more.
            let sha = try load(script)
            return try command(["EVALSHA", .string(sha), RedisArgument(keys.count)] + keys + arguments)
        }
        return try reply.check()
    }

    /// Runs a script several times in one round trip (one EVALSHA per call, pipelined) and
    /// returns the replies in order, error replies in place. A call the server had forgotten the
    /// script for (NOSCRIPT: it did not run) is loaded and run again.
    public func run(_ script: RedisScript, pipelined calls: [(keys: [RedisArgument], arguments: [RedisArgument])]) throws(RedisError) -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        let sha: String
        if let known = script.sha { sha = known } else { sha = try load(script) }
        var replies = try pipeline(calls.map { ["EVALSHA", .string(sha), RedisArgument($0.keys.count)] + $0.keys + $0.arguments })
        for index in replies.indices {
            if case .error(let message) = replies[index], message.hasPrefix("NOSCRIPT") {
                replies[index] = try send(["EVALSHA", .string(try load(script)), RedisArgument(calls[index].keys.count)] + calls[index].keys + calls[index].arguments)
            }
        }
        return replies
    }

    /// Sends a script without waiting for its reply: the command leaves now (one write, no
    /// round trip) and its reply is read by the next call on this connection or by
    /// ``confirmPosted()``. A script the server had forgotten (NOSCRIPT) is loaded and run then.
    ///
    /// When the connection breaks before the replies are read, whether the posted scripts ran is
    /// unknown: the call that notices throws, and the caller must treat them as unconfirmed.
    ///
    /// With `withNextCall`, the script is not even written now: it leaves in the same write as
    /// the next command sent on this connection.
    public func post(
        _ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = [], withNextCall: Bool = false
    ) throws(RedisError) {
        guard let sha = script.sha else {
            try run(script, keys: keys, arguments: arguments)
            return
        }
        let context = try connected()
        let status = Self.withArgv(["EVALSHA", .string(sha), RedisArgument(keys.count)] + keys + arguments) { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        guard status == REDIS_OK else { throw failure(context) }
        posted.append((script, keys, arguments))
        guard !withNextCall else { return }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw failure(context) }
        }
    }

    /// How many posted scripts await their replies.
    public var unconfirmedCount: Int { posted.count }

    /// Reads the replies of posted scripts; reruns those the server had forgotten; throws the
    /// first error reply (after reading them all, so the connection stays in step).
    public func confirmPosted() throws(RedisError) {
        guard !posted.isEmpty, let context else { return }
        let sent = posted
        let (rerun, firstError) = try readPostedReplies(context)
        for index in rerun { try run(sent[index].script, keys: sent[index].keys, arguments: sent[index].arguments) }
        if let firstError { throw firstError }
    }

    /// Reads the posted scripts' replies (sending whatever is buffered first) and forgets them;
    /// returns those to run again (NOSCRIPT) and the first other error reply.
    private func readPostedReplies(_ context: UnsafeMutablePointer<redisContext>) throws(RedisError) -> (rerun: [Int], firstError: RedisError?) {
        let count = posted.count
        posted = []
        var rerun: [Int] = []
        var firstError: RedisError?
        for index in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(context) }
            let reply = Self.decode(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            if case .error(let message) = reply {
                if message.hasPrefix("NOSCRIPT") { rerun.append(index) } else if firstError == nil { firstError = .server(message) }
            }
        }
        return (rerun, firstError)
    }

    // MARK: Split I/O, for RedisMultiplexer

    /// Opens the connection if the last call broke it (as any command would).
    func open() throws(RedisError) {
        _ = try connected()
    }

    /// Writes commands formatted by ``RedisMultiplexer`` (RESP) to the socket, bypassing the
    /// context's output buffer. One thread at a time; ``readReplies()`` may run meanwhile.
    func write(_ bytes: [UInt8]) throws(RedisError) {
        guard let context else { throw .connectionLost(endpoint: configuration.endpoint.description, reason: "closed") }
        let fd = context.pointee.fd
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written >= 0 {
                offset += written
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw .timeout(endpoint: configuration.endpoint.description, after: socketTimeout)
            } else {
                throw .connectionLost(endpoint: configuration.endpoint.description, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// Waits for bytes from the server (one `read`, up to the socket timeout), then returns every
    /// reply complete so far — none when only part of one has arrived. An I/O error leaves the
    /// connection open; the caller closes it with ``close()`` once nobody else touches it.
    func readReplies() throws(RedisError) -> [RedisReply] {
        guard let context else { throw .connectionLost(endpoint: configuration.endpoint.description, reason: "closed") }
        guard redisBufferRead(context) == REDIS_OK else { throw brokenError(context) }
        var replies: [RedisReply] = []
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw brokenError(context) }
            guard let raw else { return replies }
            replies.append(Self.decode(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
    }

    /// Closes the connection; the next call reconnects.
    func close() {
        if let context { redisFree(context) }
        context = nil
        posted = []
    }

    /// The error a broken context reports, leaving it open.
    private func brokenError(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let reason = Self.errorText(context)
        if context.pointee.err == REDIS_ERR_IO, reason.contains("temporarily unavailable") || reason.contains("timed out") {
            return .timeout(endpoint: configuration.endpoint.description, after: socketTimeout)
        }
        return .connectionLost(endpoint: configuration.endpoint.description, reason: reason.isEmpty ? "I/O error" : reason)
    }

    /// `PING`, answering `PONG`.
    public func ping() throws(RedisError) {
        let reply = try command("PING")
        guard reply == .status("PONG") else { throw .unexpectedReply(expected: "PONG", got: reply.description) }
    }

    private func load(_ script: RedisScript) throws(RedisError) -> String {
        let reply = try command("SCRIPT", "LOAD", .string(script.source))
        guard let sha = reply.string else { throw .unexpectedReply(expected: "a script SHA1", got: reply.description) }
        script.remember(sha: sha)
        return sha
    }

    // MARK: Connection management

    /// The live context, reconnecting with backoff first if the last command broke the connection.
    private func connected() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.reconnectWindow
        var delay = Duration.milliseconds(50)
        while true {
            do {
                let context = try Self.open(configuration)
                self.context = context
                self.socketTimeout = configuration.commandTimeout
                return context
            } catch {
                guard error.isConnectionError, clock.now + delay < deadline else { throw error }
                Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// Turns a failed call into an error and drops the broken context, so the next call reconnects.
    private func failure(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let error = brokenError(context)
        close()
        return error
    }

    private func setSocketTimeout(_ context: UnsafeMutablePointer<redisContext>, _ timeout: Duration) {
        guard timeout != socketTimeout else { return }
        _ = redisSetTimeout(context, Self.timeval(timeout))
        socketTimeout = timeout
    }

    private static func open(_ configuration: RedisConfiguration) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        let endpoint = configuration.endpoint.description
        let connectTimeout = timeval(configuration.connectTimeout)
        let made: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port):
            made = redisConnectWithTimeout(host, Int32(port), connectTimeout)
        case .unix(let path):
            made = redisConnectUnixWithTimeout(path, connectTimeout)
        }
        guard let context = made else {
            throw .connectionFailed(endpoint: endpoint, reason: "out of memory")
        }
        if context.pointee.err != 0 {
            let reason = errorText(context)
            redisFree(context)
            throw .connectionFailed(endpoint: endpoint, reason: reason.lowercased())
        }
        _ = redisSetTimeout(context, timeval(configuration.commandTimeout))
        _ = redisEnableKeepAlive(context)

        func handshake(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
            let raw = withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
            guard let raw else {
                let reason = errorText(context)
                throw .connectionLost(endpoint: endpoint, reason: reason)
            }
            defer { freeReplyObject(raw) }
            return decode(raw.assumingMemoryBound(to: redisReply.self))
        }
        do throws(RedisError) {
            if let password = configuration.password {
                var auth: [RedisArgument] = ["AUTH"]
                if let user = configuration.username { auth.append(.string(user)) }
                auth.append(.string(password))
                if case .error(let message) = try handshake(auth) {
                    throw .authenticationFailed(endpoint: endpoint, reason: message)
                }
            }
            if configuration.database != 0 {
                if case .error(let message) = try handshake(["SELECT", RedisArgument(configuration.database)]) {
                    throw .server("SELECT \(configuration.database) at \(endpoint): \(message)")
                }
            }
        } catch {
            redisFree(context)
            throw error
        }
        return context
    }

    // MARK: C plumbing

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    /// Lays the arguments out as hiredis's argc/argv/argvlen, in one allocation.
    private static func withArgv<Result>(
        _ arguments: [RedisArgument],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        let count = arguments.count
        var total = 0
        for argument in arguments { total += argument.byteCount }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 1)
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: count)
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer {
            storage.deallocate()
            argv.deallocate()
            lengths.deallocate()
        }
        var offset = 0
        for (index, argument) in arguments.enumerated() {
            let length = argument.byteCount
            let start = storage + offset
            argument.copyBytes(to: start)
            argv[index] = UnsafePointer(start.assumingMemoryBound(to: CChar.self))
            lengths[index] = length
            offset += length
        }
        return body(Int32(count), argv, lengths)
    }

    private static func decode(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            guard let str = value.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: value.len)))
        case REDIS_REPLY_STATUS:
            return .status(value.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: value.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(value.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: value.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { index in
                elements[index].map(decode) ?? .null
            })
        default:
            return .null
        }
    }
}
