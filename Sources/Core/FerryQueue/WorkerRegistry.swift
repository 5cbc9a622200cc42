package import FerryRedis
import FerrySupport
public import Foundation

/// A live worker process, as it announces itself in its heartbeat.
public struct WorkerInfo: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var startedAt: Double
    /// Jobs running now: job id → (type, started at).
    public var busy: [BusyJob]
    public var quiet: Bool

    public struct BusyJob: Sendable, Equatable, Codable {
        public var id: String
        public var type: String
        public var queue: String
        public var startedAt: Double
        /// The job's last reported progress (as of the worker's last heartbeat), if it reports any.
        public var progress: Progress?

        /// How far a running job is: `done` of `total` (when known), and what it says.
        public struct Progress: Sendable, Equatable, Codable {
            public var done: Int
            public var total: Int?
            public var message: String?

            public init(done: Int, total: Int? = nil, message: String? = nil) {
                self.done = done
                self.total = total
                self.message = message
            }

            /// Percent done (0 … 100) when the total is known; safe for any numbers a worker hash holds.
            public var percent: Int? {
                guard let total, total > 0 else { return nil }
                return Int(min(max(Double(done) / Double(total) * 100, 0), 100))
            }
        }

        public init(id: String, type: String, queue: String, startedAt: Double, progress: Progress? = nil) {
            self.id = id
            self.type = type
            self.queue = queue
            self.startedAt = startedAt
            self.progress = progress
        }
    }

    public init(id: String, host: String, pid: Int, queues: [String], concurrency: Int, startedAt: Double, busy: [BusyJob] = [], quiet: Bool = false) {
        self.id = id
        self.host = host
        self.pid = pid
        self.queues = queues
        self.concurrency = concurrency
        self.startedAt = startedAt
        self.busy = busy
        self.quiet = quiet
    }

    /// A worker id unique across hosts and restarts: `host:pid:random`.
    public static func newID(host: String = ProcessInfo.processInfo.hostName, pid: Int = Int(getpid())) -> String {
        "\(host):\(pid):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }
}

/// Heartbeats of worker processes, and the recovery of jobs left in flight by dead ones.
///
/// Liveness costs O(1) per process and pass: heartbeats are scores (the Redis server's clock) in
/// `ns:workers`, and finding the dead is one range query on it. What a worker may hold in flight
/// is listed in `ns:consumers:<worker>` before its first fetch, so recovery finds every list of
/// every queue, whether or not the queue is in `ns:queues`.
package struct WorkerRegistry: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Lists the in-flight lists `consumers` may hold in `queues`. Call before the first fetch.
    public func register(worker: String, consumers: [Consumer], queues: [String], on redis: RedisConnection) throws(RedisError) {
        let members = consumers.flatMap { consumer in queues.map { RedisArgument.string(consumer.member(queue: $0)) } }
        guard !members.isEmpty else { return }
        try redis.command(["SADD", .string(keys.consumers(worker))] + members)
    }

    /// Announces `worker` as alive for `ttl` (its details expire; its score stays until recovery).
    public func beat(_ worker: WorkerInfo, ttl: Duration, on redis: RedisConnection) throws(RedisError) {
        let key = keys.worker(worker.id)
        let busy = (try? String(decoding: JSONEncoder().encode(worker.busy), as: UTF8.self)) ?? "[]"
        for reply in try redis.pipeline([
            ["HSET", .string(key), "host", .string(worker.host), "pid", RedisArgument(worker.pid),
             "queues", .string(worker.queues.joined(separator: ",")), "concurrency", RedisArgument(worker.concurrency),
             "started_at", .string(String(worker.startedAt)), "busy", .string(busy), "quiet", worker.quiet ? "1" : "0"],
            ["PEXPIRE", .string(key), .string(String(max(1, ttl.wholeMilliseconds)))],
        ]) { try reply.check() }
        try redis.run(QueueScripts.beat, keys: [.string(keys.workers)], arguments: [.string(worker.id)])
    }

    /// Removes a worker that stopped cleanly (its in-flight lists must be empty).
    public func remove(_ workerID: String, on redis: RedisConnection) throws(RedisError) {
        for reply in try redis.pipeline([
            ["DEL", .string(keys.worker(workerID)), .string(keys.consumers(workerID))], ["ZREM", .string(keys.workers), .string(workerID)],
        ]) {
            try reply.check()
        }
    }

    /// The workers whose heartbeat is current.
    public func liveWorkers(on redis: RedisConnection) throws(RedisError) -> [WorkerInfo] {
        let ids = (try redis.command("ZRANGE", .string(keys.workers), 0, -1).array ?? []).compactMap(\.string)
        guard !ids.isEmpty else { return [] }
        let replies = try redis.pipeline(ids.map { ["HGETALL", .string(keys.worker($0))] })
        return zip(ids, replies).compactMap { id, reply in
            guard let fields = reply.array, !fields.isEmpty else { return nil }
            var map: [String: String] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                map[fields[index].string ?? ""] = fields[index + 1].string ?? ""
            }
            // Written by other processes: times outside 1970…9999 are taken as unknown (0), so no
            // reader does arithmetic on 1e300.
            let busy = ((try? JSONDecoder().decode([WorkerInfo.BusyJob].self, from: Data((map["busy"] ?? "[]").utf8))) ?? []).map { job in
                var job = job
                if UnixMilliseconds.checked(job.startedAt) == nil { job.startedAt = 0 }
                return job
            }
            return WorkerInfo(
                id: id, host: map["host"] ?? "?", pid: Int(map["pid"] ?? "") ?? 0,
                queues: (map["queues"] ?? "").split(separator: ",").map(String.init),
                concurrency: Int(map["concurrency"] ?? "") ?? 0, startedAt: Double(map["started_at"] ?? "").flatMap { UnixMilliseconds.checked($0) != nil ? $0 : nil } ?? 0,
                busy: busy, quiet: map["quiet"] == "1"
            )
        }
    }

    /// Every in-flight list of every worker still listed (live, or dead and not yet recovered),
    /// with whether its worker's heartbeat is older than `ttl`.
    public func inFlightLists(ttl: Duration, on redis: RedisConnection) throws(RedisError) -> [(queue: String, key: String, orphaned: Bool)] {
        let stale = Set(try staleWorkers(olderThan: ttl, limit: 100_000, on: redis))
        let ids = (try redis.command("ZRANGE", .string(keys.workers), 0, -1).array ?? []).compactMap(\.string)
        guard !ids.isEmpty else { return [] }
        let sets = try redis.pipeline(ids.map { ["SMEMBERS", .string(keys.consumers($0))] })
        var lists: [(String, String, Bool)] = []
        for (id, members) in zip(ids, sets) {
            for member in (members.array ?? []).compactMap(\.string) {
                guard let (consumer, queue) = Consumer.parse(member: member, worker: id) else { continue }
                lists.append((queue, keys.inflight(queue, consumer: consumer), stale.contains(id)))
            }
        }
        return lists
    }

    /// Workers whose last heartbeat is older than `olderThan` by the Redis server's clock.
    public func staleWorkers(olderThan ttl: Duration, limit: Int = 100, on redis: RedisConnection) throws(RedisError) -> [String] {
        (try redis.run(QueueScripts.stale, keys: [.string(keys.workers)], arguments: [.string(String(ttl.wholeMilliseconds)), RedisArgument(limit)])
            .array ?? []).compactMap(\.string)
    }

    /// What a recovery pass did.
    public struct Recovery: Sendable, Equatable {
        public var workers: [String] = []
        public var restored = 0
        public var buried = 0

        public init() {}
    }

    /// Recovers the jobs of workers whose heartbeat is older than `ttl`, and forgets them unless
    /// they beat again meanwhile. Safe to run from many processes at once: each in-flight list is
    /// emptied by one atomic script, so a second pass finds nothing left.
    ///
    /// - Parameter notes: what a dead worker left noted on its host (its ledger), when that can
    ///   be known; called before its recovery, and `recovered` after it.
    public func recoverStale(
        ttl: Duration, crashLimit: Int, deadSet: DeadSetPolicy, notes: (String) -> DeadWorkerNotes = { _ in DeadWorkerNotes() },
        recovered: (String) -> Void = { _ in }, on redis: RedisConnection
    ) throws(RedisError) -> Recovery {
        var total = Recovery()
        for worker in try staleWorkers(olderThan: ttl, on: redis) {
            let recovery = try recover(
                worker: worker, crashLimit: crashLimit, deadSet: deadSet, forgetUnlessBeatWithin: ttl, notes: notes(worker), on: redis)
            recovered(worker)
            total.workers += recovery.workers
            total.restored += recovery.restored
            total.buried += recovery.buried
        }
        return total
    }

    /// Recovers the jobs of `worker`, which is known to be dead (its supervisor saw it exit, or its
    /// heartbeat is stale). Jobs it had not started go back with no blame; the job it was running
    /// alone (a crash suspect) has its crash counted, and goes dead at `crashLimit`; jobs it was
    /// running beside others become suspects, to be run alone next time — all those a job thread
    /// was running at once (``DeadWorkerNotes/runningTogether``).
    ///
    /// - Parameter forgetUnlessBeatWithin: forget the worker only if it has not beaten within this
    ///   (a worker cut off from Redis for a while comes back); nil forgets it unconditionally.
    @discardableResult
    public func recover(
        worker: String, crashLimit: Int, deadSet: DeadSetPolicy, forgetUnlessBeatWithin: Duration? = nil, notes: DeadWorkerNotes = DeadWorkerNotes(),
        on redis: RedisConnection
    ) throws(RedisError) -> Recovery {
        let members = (try redis.command("SMEMBERS", .string(keys.consumers(worker))).array ?? []).compactMap(\.string)
        let lists = members.compactMap { Consumer.parse(member: $0, worker: worker) }
        var recovery = Recovery()
        // The isolation lane first: if it held a job, that job ran alone and is the culprit; the
        // jobs in the job threads' lists were waiting for it to finish.
        var isolatedHeldOne = false
        for (consumer, queue) in lists where consumer.lane == .isolated {
            let counts = try recoverList(
                consumer: consumer, queue: queue, mode: "isolated", crashLimit: crashLimit, deadSet: deadSet, finished: notes.finished,
                together: [], on: redis)
            if counts.restored + counts.buried > 0 { isolatedHeldOne = true }
            recovery.restored += counts.restored
            recovery.buried += counts.buried
        }
        for (consumer, queue) in lists where consumer.lane != .isolated {
            let mode: String
            if isolatedHeldOne {
                mode = "clean"
            } else if case .slot(let slot) = consumer.lane, notes.runningTogether[slot] != nil {
                mode = "together"
            } else {
                mode = "suspect"
            }
            var together: Set<String> = []
            if case .slot(let slot) = consumer.lane { together = notes.runningTogether[slot] ?? [] }
            let counts = try recoverList(
                consumer: consumer, queue: queue, mode: mode, crashLimit: crashLimit, deadSet: deadSet, finished: notes.finished,
                together: together, on: redis
            )
            recovery.restored += counts.restored
            recovery.buried += counts.buried
        }
        let ttl = forgetUnlessBeatWithin.map { String($0.wholeMilliseconds) } ?? "-1"
        if try redis.run(QueueScripts.forget, keys: [.string(keys.workers)], arguments: [.string(worker), .string(ttl)]).int == 1 {
            try redis.command("DEL", .string(keys.consumers(worker)), .string(keys.worker(worker)))
        }
        if recovery.restored + recovery.buried > 0 || !members.isEmpty { recovery.workers = [worker] }
        return recovery
    }

    private func recoverList(
        consumer: Consumer, queue: String, mode: String, crashLimit: Int, deadSet: DeadSetPolicy, finished: Set<String>,
        together: Set<String>, on redis: RedisConnection
    ) throws(RedisError) -> (restored: Int, buried: Int) {
        let reply = try redis.run(
            QueueScripts.recover,
            keys: [.string(keys.inflight(queue, consumer: consumer)), .string(keys.ready(queue)), .string(keys.dead(queue)),
                   .string(keys.crashes(queue)), .string(keys.trimmed(queue)), .string(keys.ids(queue)), .string(keys.processed(queue))],
            arguments: [.string(mode), RedisArgument(crashLimit), .string(queue), .string(consumer.worker), RedisArgument(deadSet.capacity),
                        .string(String(deadSet.maxAge.wholeMilliseconds)), .string(keys.uniquePrefix(queue)), .string(keys.batchPrefix(queue))]
                + [RedisArgument(finished.count)] + finished.sorted().map { .string($0) } + together.sorted().map { .string($0) }
        )
        let counts = reply.array?.compactMap(\.int) ?? [0, 0]
        // Jobs now wait in a queue that may never have been registered (written by another
        // language straight to its ready list): make it known, so it shows and is served.
        if counts.reduce(0, +) > 0 { try redis.command("SADD", .string(keys.queues), .string(queue)) }
        return (counts.first ?? 0, counts.count > 1 ? counts[1] : 0)
    }
}

/// What a dead worker process left noted on its host, for the recovery of its jobs.
package struct DeadWorkerNotes: Sendable, Equatable {
    /// Jobs it had finished without acknowledging them yet: done, not to be run again.
    public var finished: Set<String>
    /// The jobs that its job threads (by slot) were running at once, async attempts: each of them
    /// was running, not only the rightmost of the job thread's list.
    public var runningTogether: [Int: Set<String>]

    public init(finished: Set<String> = [], runningTogether: [Int: Set<String>] = [:]) {
        self.finished = finished
        self.runningTogether = runningTogether
    }
}
