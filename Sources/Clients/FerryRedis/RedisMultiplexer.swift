import Dispatch
import Foundation

/// One Redis connection shared by many threads, with automatic pipelining: commands that threads
/// issue while a round trip is under way leave together in the next write, and their replies
/// come back in one read — one round trip for many callers, as the fastest Redis clients do it.
///
/// There is no I/O thread. The first caller to find the connection idle leads: it writes what
/// is buffered, reads replies and hands each caller its own, and as soon as its own are in it
/// passes the lead to the oldest caller still waiting and returns. A caller's commands are
/// contiguous on the wire, so a `MULTI`…`EXEC` sent in one ``pipeline(_:)`` call stays whole.
///
/// Not for commands that block (`BLPOP`, `BLMOVE`…), that change the connection's state
/// (`SELECT`, `WATCH`, `SUBSCRIBE`, `CLIENT REPLY`) or that read many megabytes: every caller
/// would wait behind them. Use a connection of your own (``RedisConnectionPool``) for those.
///
/// When the connection breaks, every caller waiting on it gets the error (whether its commands
/// ran is unknown, as with any connection) and the next call reconnects.
public final class RedisMultiplexer: @unchecked Sendable {
    // @unchecked Sendable: `outgoing`, `waiting`, `leading` and `opened` are touched under `lock`
    // only; the socket is written and read by the leading thread only (one at a time), outside it.

    /// Commands formatted (RESP) and not yet written, in the order of `waiting`.
    private var outgoing: [UInt8] = []
    /// The buffer written last, kept for its capacity.
    private var spare: [UInt8] = []
    /// Callers whose commands are buffered or sent and whose replies are not all in, oldest first.
    private var waiting: [Call] = []
    private var head = 0
    private var leading = false
    private let lock = NSLock()
    /// Opened by the first call (set once, under the lock, before anyone leads).
    private var opened: RedisConnection?

    public let configuration: RedisConfiguration

    /// A multiplexer for the server of `configuration`; it connects on first use.
    public init(configuration: RedisConfiguration) {
        self.configuration = configuration
    }

    /// Runs one command; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: RedisArgument...) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0].check()
    }

    /// Runs one command; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func command(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0].check()
    }

    /// Runs a Lua script by EVALSHA, loading it first if the server does not know it yet.
    @discardableResult
    public func run(_ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = []) throws(RedisError) -> RedisReply {
        let sha: String
        if let known = script.sha { sha = known } else { sha = try load(script) }
        let reply = try pipeline([["EVALSHA", .string(sha), RedisArgument(keys.count)] + keys + arguments])[0]
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            return try command(["EVALSHA", .string(try load(script)), RedisArgument(keys.count)] + keys + arguments)
        }
        return try reply.check()
    }

    /// Sends the commands together, contiguous on the wire, and returns their replies in order,
    /// error replies in place. Commands of other threads may share the write and the read.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        for arguments in commands {
            if let refused = Self.unshareable(arguments) { throw .notShareable(command: refused) }
        }
        let call = Call(expecting: commands.count)
        lock.lock()
        do throws(RedisError) {
            let connection: RedisConnection
            if let opened { connection = opened } else { connection = try RedisConnection(configuration: configuration) }
            opened = connection
            try connection.open()
        } catch {
            lock.unlock()
            throw error
        }
        for arguments in commands {
            outgoing.appendRESPHeader(UInt8(ascii: "*"), arguments.count)
            for argument in arguments { argument.appendBulk(to: &outgoing) }
        }
        waiting.append(call)
        if leading {
            lock.unlock()
            call.wake.wait()
            // Woken either with the replies (or the error), or to take the lead.
            if call.mustLead { lead(call) }
        } else {
            leading = true
            lock.unlock()
            lead(call)
        }
        if let error = call.error { throw error }
        return call.replies
    }

    /// The name of a command that would hold up every caller (it blocks) or leave the connection
    /// in a state the next caller does not expect; nil for the others. `MULTI`…`EXEC` within one
    /// ``pipeline(_:)`` call is fine. Allocates nothing for the commands it lets through.
    static func unshareable(_ arguments: [RedisArgument]) -> String? {
        guard let first = arguments.first, let (length, initial) = first.lengthAndInitial else { return nil }
        // Most commands share neither length nor initial with a refused one: no comparison at all.
        guard length < 16, refusedShapes[Int(initial & 0x1F)] & (1 << length) != 0 else { return nil }
        if let name = refusedCommands.first(where: { first.isWord($0) }) { return name.description }
        for stream: StaticString in ["XREAD", "XREADGROUP"] where first.isWord(stream) {
            return arguments.dropFirst().contains { $0.isWord("BLOCK") } ? "\(stream) BLOCK" : nil
        }
        guard first.isWord("CLIENT"), arguments.count > 1 else { return nil }
        return refusedClientSubcommands.first { arguments[1].isWord($0) }.map { "CLIENT \($0)" }
    }

    private static let refusedCommands: [StaticString] = [
        "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "SELECT", "WATCH", "RESET", "QUIT", "AUTH", "HELLO", "SYNC", "PSYNC",
    ]
    private static let refusedClientSubcommands: [StaticString] = ["REPLY", "TRACKING", "CACHING"]

    /// By initial (its low five bits), a bit for each length of a refused command or of one with
    /// refused forms (`XREAD`, `XREADGROUP`, `CLIENT`).
    private static let refusedShapes: [UInt16] = {
        var shapes = [UInt16](repeating: 0, count: 32)
        for name in refusedCommands + ["XREAD", "XREADGROUP", "CLIENT"] {
            name.withUTF8Buffer { shapes[Int($0[0] & 0x1F)] |= 1 << $0.count }
        }
        return shapes
    }()

    private func load(_ script: RedisScript) throws(RedisError) -> String {
        let reply = try command("SCRIPT", "LOAD", .string(script.source))
        guard let sha = reply.string else { throw .unexpectedReply(expected: "a script SHA1", got: reply.description) }
        script.remember(sha: sha)
        return sha
    }

    /// Writes and reads for everybody until `mine` has its replies, then passes the lead on.
    private func lead(_ mine: Call) {
        guard let connection = opened else { return }  // set before any caller leads
        // The buffers trade places: callers append to `outgoing` while the leader writes `batch`.
        var batch: [UInt8] = []
        lock.lock()
        swap(&batch, &spare)
        swap(&batch, &outgoing)
        lock.unlock()
        while true {
            // What was buffered leaves now (outside the lock, so callers keep adding commands),
            // also when this caller is about to hand over: the server works on it while the
            // next leader wakes up.
            if !batch.isEmpty {
                do {
                    try connection.write(batch)
                } catch {
                    lock.lock()
                    failAll(error)
                    lock.unlock()
                    return
                }
                batch.removeAll(keepingCapacity: true)
            }
            // Only this leader hands out replies, so `mine` cannot change under it here.
            if mine.isFinished {
                lock.lock()
                spare = batch
                handOver()
                lock.unlock()
                return
            }

            let replies: [RedisReply]
            do {
                replies = try connection.readReplies()
            } catch {
                lock.lock()
                failAll(error)
                lock.unlock()
                return
            }
            lock.lock()
            for reply in replies {
                guard head < waiting.count else { break }  // cannot happen: every reply answers a caller
                let call = waiting[head]
                call.replies.append(reply)
                if call.replies.count == call.expected {
                    head += 1
                    if call !== mine { call.wake.signal() }
                }
            }
            compact()
            swap(&batch, &outgoing)  // what others buffered meanwhile, for the next write
            lock.unlock()
        }
    }

    /// Under the lock: the oldest waiting caller takes the lead, or nobody leads.
    private func handOver() {
        if head < waiting.count {
            let next = waiting[head]
            next.mustLead = true
            next.wake.signal()
        } else {
            leading = false
        }
    }

    /// Under the lock: the connection broke; everybody waiting gets `error`.
    private func failAll(_ error: RedisError) {
        opened?.close()
        outgoing.removeAll(keepingCapacity: true)
        for call in waiting[head...] {
            call.error = error
            call.wake.signal()
        }
        waiting.removeAll(keepingCapacity: true)
        head = 0
        leading = false
    }

    private func compact() {
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 {
            waiting.removeFirst(head)
            head = 0
        }
    }

    /// One caller's commands in flight.
    private final class Call {
        let expected: Int
        var replies: [RedisReply] = []
        var error: RedisError?
        /// Set (under the lock) when the caller must take over the lead.
        var mustLead = false
        let wake = DispatchSemaphore(value: 0)

        init(expecting expected: Int) {
            self.expected = expected
            replies.reserveCapacity(expected)
        }

        var isFinished: Bool { error != nil || replies.count == expected }
    }
}
