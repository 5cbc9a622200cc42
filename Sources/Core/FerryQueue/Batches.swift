public import FerryRedis
import FerrySupport
import Foundation

/// What a batch is made of and what runs when it is done.
public struct BatchRequest: Sendable {
    /// The jobs. They all run in one queue, the batch's (the first job's queue unless `queue` says).
    public var jobs: [Dispatcher.JobRequest]
    /// The batch's queue; its jobs and callbacks run there.
    public var queue: String?
    /// Shown in `ferry batch` and the admin API.
    public var description: String
    /// Enqueued once, when every job has finished (succeeded or dead). Its arguments get `batch_id`.
    public var onComplete: Dispatcher.JobRequest?
    /// Enqueued once, when every job has succeeded. Its arguments get `batch_id`.
    public var onSuccess: Dispatcher.JobRequest?

    public init(
        jobs: [Dispatcher.JobRequest], queue: String? = nil, description: String = "",
        onComplete: Dispatcher.JobRequest? = nil, onSuccess: Dispatcher.JobRequest? = nil
    ) {
        self.jobs = jobs
        self.queue = queue
        self.description = description
        self.onComplete = onComplete
        self.onSuccess = onSuccess
    }
}

/// A batch's progress.
public struct BatchStatus: Sendable, Equatable, Codable {
    public var id: String
    public var queue: String
    public var description: String
    /// Jobs added so far (nested additions included).
    public var total: Int
    /// Jobs not finished yet (queued, running, or waiting for a retry).
    public var pending: Int
    /// Jobs that succeeded.
    public var succeeded: Int
    /// Failed attempts (each retried or, at the end, dead).
    public var failed: Int
    /// Jobs that went to the dead set.
    public var dead: Int
    /// False while the batch is still being enqueued: no callback fires before it is sealed.
    public var sealed: Bool
    /// Unix seconds.
    public var createdAt: Double
    /// When the last job finished and the callbacks were enqueued (Unix seconds).
    public var completedAt: Double?
    /// The callbacks that were enqueued: `on_complete`, `on_success`.
    public var callbacksEnqueued: [String]

    enum CodingKeys: String, CodingKey {
        case id, queue, description, total, pending, succeeded, failed, dead, sealed
        case createdAt = "created_at"
        case completedAt = "completed_at"
        case callbacksEnqueued = "callbacks_enqueued"
    }
}

/// Batches (Sidekiq Pro's batches, BullMQ's flows): many jobs enqueued as one, with callbacks
/// enqueued exactly once when all have finished.
///
/// A batch lives in its queue's hash slot (`ns:{q}:batch:<id>:info` hash and `…:pending` bitmap,
/// bit i set while job i of the batch has not ended), so every change is in one script with the job's own transition: the jobs go in with
/// the bookkeeping, and the acknowledgement, retry or burial of a job updates its batch in the
/// same script. A job that runs twice (after a crash) is acknowledged once, the callbacks fire
/// from the script that removes the last pending id — once, across retries, crashes and restarts.
/// Large batches go in chunks of 1,000 jobs, each atomic with its bookkeeping; the callbacks
/// wait until the last chunk seals the batch.
public struct Batches: Sendable {
    public let dispatcher: Dispatcher
    var keys: QueueKeyspace { dispatcher.keys }

    public init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    /// A new batch id: `b` and 32 hex digits.
    public static func newID() -> String { "b" + Job.newID() }

    /// Enqueues the jobs as one batch and returns its id and the jobs' ids.
    @discardableResult
    public func enqueue(_ request: BatchRequest) throws(QueueError) -> (batch: String, ids: [String]) {
        guard !request.jobs.isEmpty else { throw .invalidJob("a batch needs at least one job") }
        guard request.description.unicodeScalars.count <= 250 else { throw .invalidJob("a batch's description must be at most 250 characters") }
        let id = Self.newID()
        let queue: String
        if let asked = request.queue { queue = asked } else { queue = try dispatcher.prepare(request.jobs[0]).0.queue }
        try Names.validateQueue(queue)
        func callback(_ callback: Dispatcher.JobRequest?) throws(QueueError) -> [UInt8] {
            guard var callback else { return [] }
            callback.options.queue = queue
            guard var args = callback.args.object else {
                throw .invalidJob("the arguments of the callback \(callback.type) must be a JSON object, like {\"report\": true}")
            }
            args["batch_id"] = .string(id)
            callback.args = .object(args)
            return try dispatcher.prepare(callback).1
        }
        let onComplete = try callback(request.onComplete)
        let onSuccess = try callback(request.onSuccess)
        // Every job is checked before anything is written; then the chunks go in one round trip.
        var chunks: [[RedisArgument]] = []
        var ids: [String] = []
        var index = 0
        while index < request.jobs.count {
            let chunk = Array(request.jobs[index..<min(index + 1000, request.jobs.count)])
            let first = index == 0
            index += chunk.count
            let last = index == request.jobs.count
            let mode = first ? (last ? "create-sealed" : "create") : (last ? "add-seal" : "add")
            let (arguments, chunkIDs) = try prepare(chunk, batch: id, firstIndex: index - chunk.count, queue: queue, mode: mode,
                                                    extra: first ? [.string(request.description), .bytes(onComplete), .bytes(onSuccess)] : [])
            chunks.append(arguments)
            ids += chunkIDs
        }
        try write(chunks, batch: id, queue: queue)
        return (id, ids)
    }

    /// Adds jobs to a batch that is not complete yet — typically from one of its running jobs,
    /// which keeps the batch open until it ends. Returns the new jobs' ids.
    @discardableResult
    public func add(_ jobs: [Dispatcher.JobRequest], to batch: String, queue: String) throws(QueueError) -> [String] {
        guard !jobs.isEmpty else { return [] }
        guard batch.utf8.count <= 200 else { throw .batchNotFound(id: String(batch.prefix(200))) }
        // Places in the batch first (a crash before the jobs are written leaves unused places, which
        // count for nothing), then the jobs with their bookkeeping.
        let prefix = keys.batch(queue, id: batch)
        let reply: RedisReply
        do {
            reply = try dispatcher.redis.withConnection { connection in
                try connection.run(BatchScripts.reserve, keys: [.string(prefix + "info")], arguments: [RedisArgument(jobs.count)])
            }
        } catch {
            throw .redis(RedisError(wrapping: error))
        }
        switch reply.string {
        case "missing": throw .batchNotFound(id: batch)
        case "complete": throw .invalidJob("batch \(batch) is complete: its callbacks have run, nothing can be added")
        default: break
        }
        guard let firstIndex = reply.int else {
            throw .redis(.unexpectedReply(expected: "the first free place in batch \(batch)", got: reply.description))
        }
        var chunks: [[RedisArgument]] = []
        var ids: [String] = []
        var index = 0
        while index < jobs.count {
            let chunk = Array(jobs[index..<min(index + 1000, jobs.count)])
            let (arguments, chunkIDs) = try prepare(chunk, batch: batch, firstIndex: firstIndex + index, queue: queue, mode: "add", extra: [])
            index += chunk.count
            chunks.append(arguments)
            ids += chunkIDs
        }
        try write(chunks, batch: batch, queue: queue)
        return ids
    }

    private func prepare(
        _ requests: [Dispatcher.JobRequest], batch: String, firstIndex: Int, queue: String, mode: String, extra: [RedisArgument]
    ) throws(QueueError) -> (arguments: [RedisArgument], ids: [String]) {
        var arguments: [RedisArgument] = [.string(mode)] + (extra.isEmpty ? [.string(""), .string(""), .string("")] : extra)
            + [.string(batch), RedisArgument(firstIndex)]
        arguments.reserveCapacity(6 + requests.count)
        var ids: [String] = []
        for (offset, var request) in requests.enumerated() {
            if let asked = request.options.queue, asked != queue {
                throw .invalidJob("the jobs of a batch run in the batch's queue '\(queue)'; one asked for '\(asked)'")
            }
            request.options.queue = queue
            guard request.options.runAt == nil, request.options.uniqueKey == nil else {
                throw .invalidJob("a batch's jobs run now and are not unique: drop run_at and unique_key")
            }
            let (job, payload) = try dispatcher.prepare(request, batch: "\(batch):\(firstIndex + offset)")
            ids.append(job.id)
            arguments.append(.bytes(payload))
        }
        return (arguments, ids)
    }

    /// Runs the chunks' scripts in one round trip; the first refusal is thrown.
    private func write(_ chunks: [[RedisArgument]], batch: String, queue: String) throws(QueueError) {
        let prefix = keys.batch(queue, id: batch)
        let scriptKeys: [RedisArgument] = [
            .string(keys.ready(queue)), .string(prefix + "info"), .string(prefix + "pending"), .string(keys.batches(queue)),
        ]
        let replies: [RedisReply]
        do {
            replies = try dispatcher.redis.withConnection { connection in
                try connection.command("SADD", .string(keys.queues), .string(queue))
                return try connection.run(BatchScripts.write, pipelined: chunks.map { (scriptKeys, $0) })
            }
        } catch {
            throw .redis(RedisError(wrapping: error))
        }
        for reply in replies {
            if case .error(let message) = reply { throw .redis(.server(message)) }
            switch reply.string {
            case "exists": throw .invalidJob("batch \(batch) already exists")
            case "missing": throw .batchNotFound(id: batch)
            case "complete": throw .invalidJob("batch \(batch) is complete: its callbacks have run, nothing can be added")
            default: continue
            }
        }
    }

    /// The newest batches of every queue, newest first (at most `limit`).
    public func recent(limit: Int = 50, on redis: RedisConnection) throws(RedisError) -> [BatchStatus] {
        let queues = (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string).sorted()
        let replies = try redis.pipeline(queues.map { ["ZRANGE", .string(keys.batches($0)), "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", RedisArgument(limit)] })
        var found: [BatchStatus] = []
        for (queue, reply) in zip(queues, replies) {
            for id in (reply.array ?? []).compactMap(\.string) {
                if let status = try status(id: id, queue: queue, on: redis) { found.append(status) }
            }
        }
        return Array(found.sorted { $0.createdAt > $1.createdAt }.prefix(limit))
    }

    /// One page of batches, newest first, and how many there are: O(queues × (offset + limit)).
    public func page(offset: Int, limit: Int, on redis: RedisConnection) throws(RedisError) -> (batches: [BatchStatus], total: Int) {
        let queues = (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string).sorted()
        guard !queues.isEmpty, limit > 0, offset >= 0 else { return ([], 0) }
        var commands: [[RedisArgument]] = []
        for queue in queues {
            commands.append(["ZCARD", .string(keys.batches(queue))])
            commands.append(["ZRANGE", .string(keys.batches(queue)), "+inf", "-inf", "BYSCORE", "REV", "WITHSCORES", "LIMIT", "0", RedisArgument(offset + limit)])
        }
        let replies = try redis.pipeline(commands)
        var total = 0
        var newest: [(id: String, queue: String, score: Double)] = []
        for (index, queue) in queues.enumerated() {
            total += replies[2 * index].int ?? 0
            let items = replies[2 * index + 1].array ?? []
            for position in stride(from: 0, to: items.count - 1, by: 2) {
                guard let id = items[position].string, let score = items[position + 1].string.flatMap(Double.init) else { continue }
                newest.append((id, queue, score))
            }
        }
        var found: [BatchStatus] = []
        for entry in newest.sorted(by: { $0.score > $1.score }).dropFirst(offset).prefix(limit) {
            if let status = try status(id: entry.id, queue: entry.queue, on: redis) { found.append(status) }
        }
        return (found, total)
    }

    /// A batch's progress, looked up in every known queue; nil when there is none by that id.
    public func status(id: String, on redis: RedisConnection) throws(RedisError) -> BatchStatus? {
        guard id.utf8.count <= 200 else { return nil }
        let queues = (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string).sorted()
        let found = try redis.pipeline(queues.map { ["EXISTS", .string(keys.batch($0, id: id) + "info")] })
        guard let index = found.firstIndex(where: { $0.int == 1 }) else { return nil }
        return try status(id: id, queue: queues[index], on: redis)
    }

    private func status(id: String, queue: String, on redis: RedisConnection) throws(RedisError) -> BatchStatus? {
        let prefix = keys.batch(queue, id: id)
        let replies = try redis.pipeline([
            ["HMGET", .string(prefix + "info"), "description", "total", "succeeded", "failed", "dead", "sealed", "created_at", "completed_at",
             "fired_complete", "fired_success", "pending"],
        ])
        let fields = replies[0].array ?? []
        guard fields.count > 6, !fields[6].isNull else { return nil }
        func text(_ index: Int) -> String? { index < fields.count ? fields[index].string : nil }
        func number(_ index: Int) -> Int { text(index).flatMap { Int($0) } ?? 0 }
        return BatchStatus(
            id: id, queue: queue, description: text(0) ?? "", total: number(1), pending: number(10), succeeded: number(2),
            failed: number(3), dead: number(4), sealed: text(5) == "1", createdAt: Double(number(6)) / 1000,
            completedAt: text(7).flatMap(Double.init).flatMap { $0.isFinite && $0 >= 0 && $0 < 1e15 ? $0 / 1000 : nil },
            callbacksEnqueued: (text(8) == "1" ? ["on_complete"] : []) + (text(9) == "1" ? ["on_success"] : [])
        )
    }
}

/// The scripts of ``Batches``; the settlement scripts update batches through
/// ``QueueScripts`` `batch_settle`.
enum BatchScripts {
    /// KEYS: ready, info, pending bitmap, the queue's recent batches. ARGV: mode (`create`,
    /// `create-sealed`, `add`, `add-seal`), description, on_complete payload, on_success payload
    /// (both "" for none; only read on create), batch id, the first job's index, then the payloads.
    /// Returns "ok", "exists", "missing" or "complete".
    static let write = RedisScript(name: "batch_write", source: QueueScripts.helpers + """
        local mode = ARGV[1]
        local creating = mode == 'create' or mode == 'create-sealed'
        if creating then
          if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
          local now = now_ms()
          redis.call('ZADD', KEYS[4], now, ARGV[5])
          -- Completed batches are kept a week; their index entries a day longer.
          redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - 691200000))
          redis.call('HSET', KEYS[2], 'description', ARGV[2], 'created_at', now, 'total', 0, 'pending', 0, 'succeeded', 0, 'failed', 0,
            'dead', 0, 'next_index', 0, 'sealed', mode == 'create-sealed' and '1' or '0')
          if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'on_complete', ARGV[3]) end
          if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'on_success', ARGV[4]) end
        else
          if redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
          if redis.call('HEXISTS', KEYS[2], 'completed_at') == 1 then return 'complete' end
        end
        local first, count = tonumber(ARGV[6]), #ARGV - 6
        if count > 0 then
          -- Mark jobs first .. first + count - 1 pending: whole bytes at once where aligned.
          local index = first
          if index % 8 == 0 and count >= 8 then
            local bytes = math.floor(count / 8)
            redis.call('SETRANGE', KEYS[3], index / 8, string.rep(string.char(255), bytes))
            index = index + bytes * 8
          end
          while index < first + count do
            redis.call('SETBIT', KEYS[3], index, 1)
            index = index + 1
          end
          for i = 7, #ARGV, 1000 do
            redis.call('LPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
          end
          redis.call('HINCRBY', KEYS[2], 'total', count)
          redis.call('HINCRBY', KEYS[2], 'pending', count)
          if tonumber(redis.call('HGET', KEYS[2], 'next_index') or '0') < first + count then
            redis.call('HSET', KEYS[2], 'next_index', first + count)
          end
        end
        if mode == 'add-seal' then
          redis.call('HSET', KEYS[2], 'sealed', '1')
          batch_fire(KEYS[2], KEYS[1])
        end
        return 'ok'
        """)

    /// Reserves places for jobs to add to a batch. KEYS: info. ARGV: how many. Returns the first
    /// index, or "missing" / "complete".
    static let reserve = RedisScript(name: "batch_reserve", source: """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
        if redis.call('HEXISTS', KEYS[1], 'completed_at') == 1 then return 'complete' end
        return redis.call('HINCRBY', KEYS[1], 'next_index', ARGV[1]) - tonumber(ARGV[1])
        """)
}
