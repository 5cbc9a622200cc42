public import FerryRedis
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

        public init(id: String, type: String, queue: String, startedAt: Double) {
            self.id = id
            self.type = type
            self.queue = queue
            self.startedAt = startedAt
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
public struct WorkerRegistry: Sendable {
    public let keys: QueueKeyspace

    public init(keys: QueueKeyspace) {
        self.keys = keys
    }

    /// Announces `worker` as alive for `ttl`; call it well within the TTL.
    public func beat(_ worker: WorkerInfo, ttl: Duration, on redis: RedisConnection) throws(RedisError) {
        let key = keys.worker(worker.id)
        let busy = (try? String(decoding: JSONEncoder().encode(worker.busy), as: UTF8.self)) ?? "[]"
        let ttlMilliseconds = Int(ttl.components.seconds) * 1000 + Int(ttl.components.attoseconds / 1_000_000_000_000_000)
        for reply in try redis.pipeline([
            ["HSET", .string(key), "host", .string(worker.host), "pid", RedisArgument(worker.pid),
             "queues", .string(worker.queues.joined(separator: ",")), "concurrency", RedisArgument(worker.concurrency),
             "started_at", .string(String(worker.startedAt)), "busy", .string(busy), "quiet", worker.quiet ? "1" : "0"],
            ["PEXPIRE", .string(key), RedisArgument(ttlMilliseconds)],
            ["ZADD", .string(keys.workers), .string(String(Int64(Date().timeIntervalSince1970 * 1000))), .string(worker.id)],
        ]) { try reply.check() }
    }

    /// Removes a worker that stopped cleanly (its in-flight lists must be empty).
    public func remove(_ workerID: String, on redis: RedisConnection) throws(RedisError) {
        for reply in try redis.pipeline([["DEL", .string(keys.worker(workerID))], ["ZREM", .string(keys.workers), .string(workerID)]]) {
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
            let busy = (try? JSONDecoder().decode([WorkerInfo.BusyJob].self, from: Data((map["busy"] ?? "[]").utf8))) ?? []
            return WorkerInfo(
                id: id, host: map["host"] ?? "?", pid: Int(map["pid"] ?? "") ?? 0,
                queues: (map["queues"] ?? "").split(separator: ",").map(String.init),
                concurrency: Int(map["concurrency"] ?? "") ?? 0, startedAt: Double(map["started_at"] ?? "") ?? 0,
                busy: busy, quiet: map["quiet"] == "1"
            )
        }
    }

    /// What a recovery pass did.
    public struct Recovery: Sendable, Equatable {
        public var workers: [String] = []
        public var restored = 0
        public var buried = 0
    }

    /// Finds workers whose heartbeat expired and puts their in-flight jobs back, exactly once:
    /// each queue's in-flight list is emptied by one atomic script, so a second process running
    /// the same recovery finds nothing left. A job that has now taken down `crashLimit` workers
    /// goes to the dead set instead.
    public func recoverOrphans(crashLimit: Int = 3, deadCapacity: Int = 10_000, on redis: RedisConnection) throws(RedisError) -> Recovery {
        let ids = (try redis.command("ZRANGE", .string(keys.workers), 0, -1).array ?? []).compactMap(\.string)
        guard !ids.isEmpty else { return Recovery() }
        let alive = try redis.pipeline(ids.map { ["EXISTS", .string(keys.worker($0))] })
        let dead = zip(ids, alive).filter { $0.1.int == 0 }.map(\.0)
        guard !dead.isEmpty else { return Recovery() }
        let queues = (try redis.command("SMEMBERS", .string(keys.queues)).array ?? []).compactMap(\.string)
        var recovery = Recovery()
        let now = String(Int64(Date().timeIntervalSince1970 * 1000))
        for worker in dead {
            for queue in queues {
                let reply = try redis.run(
                    QueueScripts.recover,
                    keys: [.string(keys.inflight(queue, worker: worker)), .string(keys.ready(queue)), .string(keys.dead(queue)), .string(keys.crashes(queue))],
                    arguments: [RedisArgument(crashLimit), .string(now), .string(queue), .string(worker), RedisArgument(deadCapacity)]
                )
                let counts = reply.array?.compactMap(\.int) ?? [0, 0]
                recovery.restored += counts.first ?? 0
                recovery.buried += counts.last ?? 0
            }
            try redis.command("ZREM", .string(keys.workers), .string(worker))
            recovery.workers.append(worker)
        }
        return recovery
    }
}
