/// Something async code sends Redis commands through without blocking its thread: a worker
/// loop's ``RedisTaskPipeline``, a ``RedisAsyncConnection``, or a ``RedisClient``.
public protocol RedisPipelining: Sendable {
    /// Sends the commands together, contiguous on the wire, and returns their replies in order,
    /// error replies in place; suspends the calling task, not its thread.
    nonisolated(nonsending) func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply]
}

extension RedisPipelining {
    /// Runs one command; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public nonisolated(nonsending) func command(_ arguments: [RedisArgument]) async throws(RedisError) -> RedisReply {
        try await pipeline([arguments])[0].check()
    }

    /// Runs a Lua script by EVALSHA, loading it first if the server does not know it yet.
    @discardableResult
    public nonisolated(nonsending) func run(_ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = []) async throws(RedisError) -> RedisReply {
        try await run(script, pipelined: [(keys, arguments)])[0].check()
    }

    /// Runs a Lua script once per call, all in one round trip (EVALSHA; the script is loaded
    /// first if the server does not know it). Replies in order, error replies in place.
    public nonisolated(nonsending) func run(
        _ script: RedisScript, pipelined calls: [(keys: [RedisArgument], arguments: [RedisArgument])]
    ) async throws(RedisError) -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        if let sha = script.sha {
            let replies = try await pipeline(calls.map { ["EVALSHA", .string(sha), RedisArgument($0.keys.count)] + $0.keys + $0.arguments })
            let unknown = replies.contains { if case .error(let message) = $0 { message.hasPrefix("NOSCRIPT") } else { false } }
            if !unknown { return replies }
        }
        // Unknown here (first use, or the server restarted): load it for the next calls, and run
        // these ones with the source itself, in the same round trip.
        let replies = try await pipeline(
            [["SCRIPT", "LOAD", .string(script.source)]]
                + calls.map { ["EVAL", .string(script.source), RedisArgument($0.keys.count)] + $0.keys + $0.arguments })
        guard let sha = try replies[0].check().string else {
            throw .unexpectedReply(expected: "a script SHA1", got: replies[0].description)
        }
        script.remember(sha: sha)
        return Array(replies.dropFirst())
    }
}
