import FerryProcess
import FerryQueue
import FerryRedis
import Foundation

/// Celery's task messages, sent once by the real Celery client, drained side by side in one run
/// against the same Redis: by Celery's own worker (its threads pool and its prefork pool) and by
/// Ferry's workers taking the Celery queue (`--celery-queues`). The task is the same one-round-trip
/// job as ferry.record (SADD of the task id + INCR, pipelined; Ferry runs it as that blocking
/// handler and as ferry.count, its async twin), results off on both sides. Each
/// drain starts from the same messages (a copy of the list the client wrote) once its workers
/// are up, and reports tasks/s and the CPU of its worker processes (children included) per task.
struct CeleryDrain {
    /// The Python with Celery installed, and `ops/peers/celery_tasks.py`.
    let python: String
    let tasksFile: String
    /// The Redis of the run, in a database of its own.
    let url: String
    let ferry: String
    let processes: Int
    let concurrency: Int
    let report: (String, String) -> Void

    struct Figures {
        var tasksPerSecond: Double
        var workerMicroseconds: Double
    }

    static let key = "celery-record"

    func run(count: Int) throws {
        let db = try RedisConnection(url: url)
        try db.command("FLUSHDB")
        let sent = ContinuousClock.now
        try runToEnd([python, tasksFile, "send", url, "celery-staging", Self.key, String(count)])
        report("Celery client (celery 5.7.0) sending \(count) tasks", String(format: "%.0f tasks/s", Double(count) / sent.duration(to: .now).secondsValue))
        guard let messages = try db.command("DUMP", "celery-staging").bytes else { fatalError("the Celery client wrote no messages") }
        let peers = [
            ("Celery's worker, threads pool (1 process × \(processes * concurrency))", ["--pool", "threads", "-c", String(processes * concurrency)]),
            ("Celery's worker, prefork pool (\(processes) processes)", ["--pool", "prefork", "-c", String(processes)]),
        ]
        var best: Figures?
        for (label, pool) in peers {
            let figures = try drain(label, count: count, messages: messages, on: db) {
                try ChildProcess([python, "-m", "celery", "-A", "celery_tasks", "worker", "-Q", "bench", "--loglevel", "warning", "--without-gossip",
                                  "--without-mingle", "--without-heartbeat"] + pool,
                                 environment: ["CELERY_BROKER_URL": url, "PYTHONPATH": URL(fileURLWithPath: tasksFile).deletingLastPathComponent().path])
            } ready: {
                try db.command("EXISTS", "celery-bench-ready").int == 1
            }
            if best.map({ figures.tasksPerSecond > $0.tasksPerSecond }) ?? true { best = figures }
        }
        // Ferry runs the task as a blocking handler (ferry.record, a thread per job) and as an
        // async one (ferry.count, the same Redis work; a thread runs many at once), which a
        // jobs directory maps to the Celery task's name.
        let asyncJobs = NSTemporaryDirectory() + "ferry-celery-bench-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: asyncJobs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: asyncJobs) }
        try "celery: {name: ferry.record}\n".write(toFile: asyncJobs + "/ferry.count.yml", atomically: true, encoding: .utf8)
        for (handler, jobs) in [("blocking handler, ferry.record", "jobs"), ("async handler, ferry.count", asyncJobs)] {
            let namespace = "celery-bench-\(UUID().uuidString.prefix(6))"
            let figures = try drain("Ferry taking the Celery queue (\(processes) processes × \(concurrency), \(handler))", count: count, messages: messages, on: db) {
                try ChildProcess([ferry, "worker", "--processes", String(processes), "--concurrency", String(concurrency), "--queues", "default",
                                  "--celery-queues", "bench", "--jobs-dir", jobs],
                                 environment: ["FERRY_REDIS_URL": url, "FERRY_NAMESPACE": namespace, "FERRY_LOG_LEVEL": "warning"])
            } ready: {
                try WorkerRegistry(keys: QueueKeyspace(namespace: namespace)).liveWorkers(on: db).count == processes
            }
            if let best {
                report("  against Celery's best, the same Celery messages", String(
                    format: "%.1f× the tasks/s; %.1f× less worker CPU per task", figures.tasksPerSecond / best.tasksPerSecond,
                    best.workerMicroseconds / figures.workerMicroseconds))
            }
        }
        try db.command("FLUSHDB")
    }

    /// Starts the workers, waits until they are up, releases a copy of the messages as the `bench`
    /// queue and measures until every task ran once.
    func drain(
        _ label: String, count: Int, messages: [UInt8], on db: RedisConnection, start: () throws -> ChildProcess, ready: () throws -> Bool
    ) throws -> Figures {
        try db.command("DEL", "bench", .string(Self.key), .string(Self.key + ":runs"), "celery-bench-ready")
        let workers = try start()
        defer {
            workers.signal(SIGTERM)
            _ = workers.waitForExit(timeout: 60)
        }
        let up = try eventually(timeout: 60, ready)
        precondition(up, "\(label) did not start:\n\(workers.output.suffix(3000))")
        let pids = [Int(workers.pid)] + descendants(of: Int(workers.pid))
        let cpuBefore = pids.reduce(0) { $0 + cpuSeconds(pid: $1) }
        let started = ContinuousClock.now
        try db.command("RESTORE", "bench", "0", .bytes(messages))
        let drained = try eventually(timeout: 900) { try db.command("GET", .string(Self.key + ":runs")).int ?? 0 >= count }
        let elapsed = started.duration(to: .now).secondsValue
        precondition(drained, "\(label) did not drain the queue:\n\(workers.output.suffix(3000))")
        let cpu = (pids + descendants(of: Int(workers.pid))).reduce(into: Set<Int>()) { $0.insert($1) }.reduce(0) { $0 + cpuSeconds(pid: $1) } - cpuBefore
        let figures = Figures(tasksPerSecond: Double(count) / elapsed, workerMicroseconds: cpu / Double(count) * 1e6)
        let distinct = try db.command("SCARD", .string(Self.key)).int ?? 0
        report("\(label), \(count) tasks", String(
            format: "%@ tasks/s; worker CPU %.1f µs/task%@", formatted(figures.tasksPerSecond), figures.workerMicroseconds,
            distinct == count ? "" : " (\(distinct) distinct task ids)"))
        return figures
    }

    func formatted(_ value: Double) -> String {
        let number = NumberFormatter()
        number.numberStyle = .decimal
        number.maximumFractionDigits = 0
        return number.string(from: NSNumber(value: value)) ?? String(Int(value))
    }

    func runToEnd(_ arguments: [String]) throws {
        let process = try ChildProcess(arguments)
        guard process.waitForExit(timeout: 900) == 0 else { fatalError("\(arguments.joined(separator: " ")) failed:\n\(process.output.suffix(3000))") }
    }

    /// Every process below `pid` (a prefork pool's children; a supervisor's worker processes).
    func descendants(of pid: Int) -> [Int] {
        var children: [Int: [Int]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int(fields[1]) { children[parent, default: []].append(child) }
        }
        var result: [Int] = []
        var pending = [pid]
        while let next = pending.popLast() {
            for child in children[next] ?? [] {
                result.append(child)
                pending.append(child)
            }
        }
        return result
    }
}
