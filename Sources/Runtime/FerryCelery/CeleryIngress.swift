public import FerryQueue
public import FerryRedis
public import FerryWorker
import FerrySupport
import Foundation
public import Logging

/// Takes Celery's task messages from the Redis lists kombu writes (a queue's list and its
/// priority lists `<queue>\x06\x16<3|6|9>`, kombu's priority 0 first) into Ferry's queues.
///
/// Each message is read where it lies (the oldest, at the list's tail), converted, and moved by
/// a script that takes it from the list only if it is still the tail and in the same step writes
/// the job: into its type's ready list, its scheduled set (an `eta`), or — refused — the dead set
/// with the message kept. A process killed at any moment loses or duplicates nothing. Of the
/// processes configured with the same Celery queues, one takes at a time (a lease in Redis,
/// renewed with each batch, taken over 5 s after its holder stops renewing it): the others would
/// only read and convert the same messages to find them gone. While the lists are empty the holder
/// waits on the list where messages last came (BLMOVE onto itself: it takes nothing; the first
/// queue's own list at first), so a client that sends with one priority is served at once, and
/// looks at the others every 100 ms (BLMOVE has one source).
public struct CeleryIngress: JobIngress {
    public let name = "celery"
    /// The Celery queues drained, as kombu names them.
    public let queues: [String]
    let tasks: CeleryTasks
    let keys: QueueKeyspace
    let redis: RedisConfiguration
    let results: CeleryResults?
    let logger: Logger
    /// Messages read and moved per round trip.
    let batch: Int

    /// kombu's separator between a queue's name and its priority step.
    static let prioritySeparator = "\u{06}\u{16}"
    /// kombu's default priority steps; 0 is the queue's own list.
    static let prioritySteps = [0, 3, 6, 9]

    public init(
        queues: [String], tasks: CeleryTasks, keys: QueueKeyspace, redis: RedisConfiguration, results: CeleryResults?, logger: Logger,
        batch: Int = 500
    ) throws(QueueError) {
        for queue in queues { try Names.validateQueue(queue) }
        self.queues = queues
        self.tasks = tasks
        self.keys = keys
        self.redis = redis
        self.results = results
        self.logger = logger
        self.batch = batch
    }

    /// The lists of `queue`, most urgent first.
    static func lists(of queue: String) -> [String] {
        prioritySteps.map { $0 == 0 ? queue : queue + prioritySeparator + String($0) }
    }

    /// The lease key of these Celery queues (in Ferry's namespace).
    var leaseKey: String { "\(keys.namespace):celery-ingress:\(queues.joined(separator: ","))" }

    public func run(isStopping: @escaping @Sendable () -> Bool) {
        guard let first = queues.first else { return }
        var watched = first  // where messages came last
        logger.info("taking Celery tasks", metadata: ["celery_queues": "\(queues.joined(separator: ","))"])
        let holder = UUID().uuidString
        var connection: RedisConnection?
        var delay = 0.1
        defer {
            // Hand the lease on at once rather than after it expires.
            _ = try? connection?.run(Self.release, keys: [.string(leaseKey)], arguments: [.string(holder)])
        }
        while !isStopping() {
            do {
                let redis = try connection ?? RedisConnection(configuration: self.redis)
                connection = redis
                guard try redis.run(Self.lease, keys: [.string(leaseKey)], arguments: [.string(holder), "5000"]).int == 1 else {
                    Thread.sleep(forTimeInterval: 1)
                    continue
                }
                switch try drain(on: redis) {
                case .busy(let list):
                    watched = list
                case .empty:
                    _ = try redis.blockingCommand(["BLMOVE", .string(watched), .string(watched), "RIGHT", "RIGHT", "0.1"], blockFor: .milliseconds(100))
                }
                delay = 0.1
            } catch {
                logger.error("cannot take Celery tasks; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                connection = nil
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    enum Pass: Equatable {
        /// Nothing to take in any list.
        case empty
        /// Messages were there, in this list (moved, or taken by another process first).
        case busy(list: String)
    }

    /// Reads the oldest messages of the most urgent list that has any and moves them.
    func drain(on redis: RedisConnection) throws(RedisError) -> Pass {
        let lists = queues.flatMap { queue in Self.lists(of: queue).map { (queue: queue, list: $0) } }
        let replies = try redis.pipeline(lists.map { ["LRANGE", .string($0.list), RedisArgument(-batch), -1] })
        for ((queue, list), reply) in zip(lists, replies) {
            let members = (reply.array ?? []).compactMap(\.bytes)
            guard !members.isEmpty else { continue }
            // kombu pushes at the head and pops at the tail: the tail is the oldest.
            try move(Array(members.reversed()), from: list, celeryQueue: queue, on: redis)
            return .busy(list: list)
        }
        return .empty
    }

    /// Converts `raws` (oldest first) and moves those still at the list's tail.
    func move(_ raws: [[UInt8]], from list: String, celeryQueue: String, on redis: RedisConnection) throws(RedisError) {
        var scriptKeys: [RedisArgument] = [.string(list), .string(keys.queues)]
        var arguments: [RedisArgument] = []
        var refused: [CeleryMessage.Refusal] = []
        let now = Date()
        for raw in raws {
            // How the script knows the message still lies at the tail: by its length and its
            // delivery tag (not sending a kilobyte back per message), or whole when it has no tag.
            var check: [RedisArgument] = [.bytes(raw), ""]
            do throws(CeleryMessage.Refusal) {
                let message = try CeleryMessage.parse(raw)
                // A tag too short to be unique (another producer's counter) is not trusted.
                if let tag = message.deliveryTag, tag.utf8.count >= 16 { check = [.string(tag), RedisArgument(raw.count)] }
                let job = try tasks.job(for: message, now: now)
                let payload = job.encoded()
                if let runAt = job.runAt {
                    let score = String(UnixMilliseconds.clamped(runAt))
                    scriptKeys += [.string(keys.scheduled(job.queue)), .string(keys.ids(job.queue))]
                    arguments += check + ["s", .bytes(payload), .string(score), .string(job.id), .string(job.queue)]
                } else {
                    scriptKeys += [.string(keys.ready(job.queue)), .string(keys.ids(job.queue))]
                    arguments += check + ["r", .bytes(payload), "0", .string(job.id), .string(job.queue)]
                }
            } catch {
                let failure = JobFailure(type: "CeleryRefused", message: error.reason, at: now.timeIntervalSince1970)
                let record: JSONValue = [
                    "died_at": .int(Int64(UnixMilliseconds.clamped(now.timeIntervalSince1970))),
                    "error": ["type": .string(failure.type), "message": .string(failure.message), "at": .double(failure.at)],
                    "job": .null, "queue": .string(celeryQueue), "raw": .string(String(decoding: raw, as: UTF8.self)),
                ]
                let encoded = (try? JSONEncoder().encode(record)).map(Array.init) ?? []
                scriptKeys += [.string(keys.dead(celeryQueue)), .string(keys.ids(celeryQueue))]
                arguments += check + ["d", .bytes(encoded), .string(String(UnixMilliseconds.clamped(now.timeIntervalSince1970))), "", .string(celeryQueue)]
                refused.append(error)
            }
        }
        let moved = try redis.run(Self.take, keys: scriptKeys, arguments: [RedisArgument(raws.count)] + arguments).int ?? 0
        guard moved > 0 else { return }
        // Refusals among those moved: said in the log, and to a waiting Celery client as a failure.
        for refusal in refused {
            logger.warning("Celery task refused: moved to the dead set", metadata: [
                "celery_queue": "\(celeryQueue)", "task_id": "\(refusal.id ?? "-")", "task": "\(refusal.task ?? "-")", "reason": "\(refusal.reason)",
            ])
            if let id = refusal.id, let results {
                do { try results.write(id: id, .failure(type: "CeleryRefused", message: refusal.reason)) } catch {
                    logger.error("cannot write the refusal where Celery's client looks", metadata: ["task_id": "\(id)", "error": "\(error)"])
                }
            }
        }
        logger.debug("took Celery tasks", metadata: ["count": "\(moved)", "list": "\(list)"])
    }

    /// Takes or renews the lease. KEYS: the lease. ARGV: the holder, milliseconds. Returns 1 when held.
    static let lease = RedisScript(name: "celery_lease", source: """
        local current = redis.call('GET', KEYS[1])
        if current and current ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """)

    /// Gives the lease up if held. KEYS: the lease. ARGV: the holder.
    static let release = RedisScript(name: "celery_release", source: """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 1
        """)

    /// Moves messages from a Celery list's tail while each is the one read. KEYS: the list, the
    /// queues set, then per message its destination and its queue's id index. ARGV: the count,
    /// then per message: how to know it (its delivery tag and length, or the raw message and
    /// ""), r|s|d (ready, scheduled, dead), the payload, the score, the job id, the Ferry queue.
    /// Returns how many were moved.
    static let take = RedisScript(name: "celery_take", source: """
        local moved = 0
        for i = 0, tonumber(ARGV[1]) - 1 do
          local base = 2 + i * 7
          local tail = redis.call('LINDEX', KEYS[1], -1)
          if not tail then break end
          if ARGV[base + 1] == '' then
            if tail ~= ARGV[base] then break end
          elseif #tail ~= tonumber(ARGV[base + 1]) or not string.find(tail, ARGV[base], 1, true) then
            break
          end
          redis.call('RPOP', KEYS[1])
          local kind, payload, score, id, queue = ARGV[base + 2], ARGV[base + 3], ARGV[base + 4], ARGV[base + 5], ARGV[base + 6]
          local destination, index = KEYS[3 + i * 2], KEYS[4 + i * 2]
          if kind == 'r' then
            redis.call('LPUSH', destination, payload)
          elseif kind == 's' then
            redis.call('ZADD', destination, score, payload)
            redis.call('HSET', index, id, 's:' .. score)
          else
            redis.call('ZADD', destination, score, payload)
          end
          redis.call('SADD', KEYS[2], queue)
          moved = moved + 1
        end
        return moved
        """)
}
