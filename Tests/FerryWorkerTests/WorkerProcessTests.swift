import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// The real `ferry worker` in child processes against the test Redis: crashes, restarts,
/// malformed payloads, shutdown, pauses, timeouts. Each test has its own namespace.
@Suite(.serialized) struct WorkerProcessTests {
    let namespace = "wtest-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let redisURL: String
    let redis: RedisConnection

    init() throws {
        redisURL = TestEnvironment.redisURL
        redis = try RedisConnection(url: redisURL)
    }

    func worker(_ arguments: [String] = [], redisURL: String? = nil) throws -> ChildProcess {
        try ChildProcess(
            [TestEnvironment.ferryBinary, "worker", "--heartbeat", "0.3", "--heartbeat-ttl", "1.5"] + defaultQueue(unless: arguments) + arguments,
            environment: ["FERRY_REDIS_URL": redisURL ?? self.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_LOG_LEVEL": "info"]
        )
    }

    func dispatcher(_ url: String? = nil) throws -> Dispatcher {
        Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: url ?? redisURL), capacity: 1), keys: keys)
    }

    func recordJobs(_ count: Int, key: String, ms: Int = 0) -> [Dispatcher.JobRequest] {
        (0..<count).map { _ in .init(type: "ferry.record", args: .object(["key": .string(key), "ms": .int(Int64(ms))])) }
    }

    func count(_ key: String, on connection: RedisConnection? = nil) throws -> Int {
        try (connection ?? redis).command("SCARD", .string(key)).int ?? 0
    }

    func stats(_ connection: RedisConnection? = nil) throws -> FerryQueue.Stats {
        try QueueAdmin(keys: keys).queues.stats(on: connection ?? redis)
    }

    @Test func killingAWorkerMidJobLosesNothing() throws {
        let key = "\(namespace):ran"
        let ids = try dispatcher().enqueue(batch: recordJobs(400, key: key, ms: 10))
        let process = try worker(["--processes", "2", "--concurrency", "4"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }

        // Kill -9 a worker process twice while jobs run; the supervisor replaces it and recovers
        // its in-flight jobs at once (not after its heartbeat TTL).
        for round in 1...2 {
            #expect(try eventually(timeout: 10) { try count(key) > 40 * round })
            let workers = try WorkerRegistry(keys: keys).liveWorkers(on: redis)
            let victim = try #require(workers.first { !$0.busy.isEmpty } ?? workers.first)
            kill(pid_t(victim.pid), SIGKILL)
            #expect(eventually(timeout: 5) { process.output.components(separatedBy: "recovered the jobs of an exited worker process").count > round },
                    "\(process.output.suffix(2000))")
        }
        let finished = try eventually(timeout: 60) { try count(key) == ids.count }
        #expect(finished, "\((try? count(key)) ?? -1) of \(ids.count) jobs ran\n\(process.output.suffix(2000))")
        // Each job is acknowledged the moment it ends, and the jobs a dead process had fetched but
        // not started go back unrun: only the (at most 4) jobs running at each kill run twice.
        let runs = try redis.command("GET", .string(key + ":runs")).int ?? 0
        #expect(runs >= ids.count && runs <= ids.count + 2 * 4, "\(runs) runs of \(ids.count) jobs")
        #expect(try eventually(timeout: 10) { let s = try stats(); return s.queues["default"]?.inFlight == 0 && s.queues["default"]?.ready == 0 })
        #expect(try stats().queues["default"]?.dead == 0)
        // Every job was acknowledged exactly once: a killed attempt never is.
        #expect(try stats().processed == ids.count)
    }

    @Test func aChildWhoseSupervisorDiedBeforeRedisAnsweredStops() throws {
        // A worker child started by a shell that exits two seconds later (its supervisor gone), with a
        // Redis that never answers: it must stop by itself, not retry forever.
        let port = try FreePort.find()
        let pidFile = NSTemporaryDirectory() + "ferry-orphan-\(UUID().uuidString.prefix(8)).pid"
        let shell = try ChildProcess(["/bin/sh", "-c", "\"$0\" worker --child --worker-id orphan-test --concurrency 1 >/dev/null 2>&1 & echo $! > \"$1\"; sleep 2",
                                      TestEnvironment.ferryBinary, pidFile],
                                     environment: ["FERRY_REDIS_URL": "redis://127.0.0.1:\(port)/0", "FERRY_NAMESPACE": namespace])
        #expect(shell.waitForExit(timeout: 10) == 0)
        let pid = try #require(Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        defer { kill(pid, SIGKILL) }
        // Gone (or a zombie waiting for its new parent to reap it) within the shutdown's Redis wait.
        let stopped = eventually(timeout: 60) {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
            return status.contains("State:\tZ")
        }
        #expect(stopped, "the orphaned worker \(pid) still runs")
    }

    @Test func aChildWhoseSupervisorDiedBeforeItBeganStops() throws {
        // The supervisor was killed between spawning the child and the child's first look at its
        // parent (the `ferry up` SIGKILL test left such a worker running): the child was told its
        // supervisor's pid, finds another parent from the start, and stops — Redis answering or not.
        let supervisor = try ChildProcess(["/bin/sleep", "0"])
        _ = supervisor.waitForExit(timeout: 10)
        let worker = try ChildProcess([
            TestEnvironment.ferryBinary, "worker", "--child", "--worker-id", "orphan-at-birth", "--concurrency", "1", "--supervisor-pid", "\(supervisor.pid)",
        ], environment: ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace])
        defer { worker.signal(SIGKILL); _ = worker.waitForExit(timeout: 10) }
        #expect(worker.waitForExit(timeout: 60) != nil, "a worker whose supervisor was gone before it began still runs:\n\(worker.output.suffix(2000))")
        #expect(worker.output.contains("the supervisor is gone"), "\(worker.output.suffix(2000))")
    }

    @Test func workersReconnectWhenRedisRestarts() throws {
        let server = try PrivateRedisServer(extraArguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let connection = try RedisConnection(url: server.url)
        let key = "\(namespace):ran"
        let ids = try dispatcher(server.url).enqueue(batch: recordJobs(150, key: key, ms: 20))
        let process = try worker(["--concurrency", "4"], redisURL: server.url)
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }

        #expect(try eventually(timeout: 10) { try count(key, on: connection) > 20 })
        server.stop()
        usleep(700_000)
        try server.start()
        let fresh = try RedisConnection(url: server.url)
        let finished = try eventually(timeout: 60) { try count(key, on: fresh) == ids.count }
        let summary = try "ran \(count(key, on: fresh)) of \(ids.count); \(stats(fresh).queues["default"].map { "\($0)" } ?? "")"
        #expect(finished, "\(summary)\n\(process.output.split(separator: "\n").filter { !$0.contains("job finished") }.suffix(30).joined(separator: "\n"))")
        #expect(process.waitForExit(timeout: 0) == nil, "the worker died: \(process.output.suffix(2000))")
        #expect(try eventually(timeout: 10) { try stats(fresh).queues["default"]?.inFlight == 0 })
    }

    @Test func aMalformedPayloadGoesDeadAndTheWorkerCarriesOn() throws {
        try redis.command("SADD", .string(keys.queues), "default")
        try redis.command("LPUSH", .string(keys.ready("default")), "this is not json")
        try redis.command("LPUSH", .string(keys.ready("default")), #"{"id":"j1","type":"ferry.noop","queue":"default"}"#)
        // Numbers a trapping conversion would die on: each job goes dead with the field named.
        let envelope = #""id":"n%d","type":"ferry.noop","queue":"default","args":{},"attempt":1,"max_attempts":3,"created_at":1.7e9,"enqueued_at":1.7e9"#
        for (index, extra) in [#""timeout_s":9.3e15"#, #""run_at":-1e300"#, #""run_at":1e300"#].enumerated() {
            try redis.command("LPUSH", .string(keys.ready("default")), .string("{" + String(format: envelope, index) + "," + extra + "}"))
        }
        let key = "\(namespace):ran"
        try dispatcher().enqueue(.init(type: "ferry.record", args: .object(["key": .string(key)])))
        try dispatcher().enqueue(.init(type: "no.such.type"))
        try dispatcher().enqueue(.init(type: "ferry.record", args: .object(["wrong": .int(1)])))
        let process = try worker()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }

        #expect(try eventually(timeout: 10) { try count(key) == 1 })
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.dead == 7 })
        let dead = try QueueAdmin(keys: keys).dead.jobs(on: redis)
        let reasons = dead.map { "\($0.error.type): \($0.error.message)" }.joined(separator: "\n")
        #expect(reasons.contains("MalformedJob: malformed job payload: not valid JSON"), "\(reasons)")
        #expect(reasons.contains("MalformedJob: malformed job payload: missing field"), "\(reasons)")
        #expect(reasons.contains("UnknownJobType: no handler for job type 'no.such.type'"), "\(reasons)")
        #expect(reasons.contains("InvalidArguments: the arguments do not fit ferry.record: missing argument 'key'"), "\(reasons)")
        #expect(reasons.contains("MalformedJob: malformed job payload: field 'timeout_s' must be"), "\(reasons)")
        #expect(reasons.contains("MalformedJob: malformed job payload: field 'run_at' must be"), "\(reasons)")
        #expect(process.waitForExit(timeout: 0) == nil)
    }

    @Test func failingJobsAreRetriedThenDie() throws {
        try "max_attempts: 3\nbackoff: {base: 100ms, max: 200ms, jitter: 0}\n"
            .write(toFile: NSTemporaryDirectory() + "\(namespace)-ferry.fail.yml", atomically: true, encoding: .utf8)
        let directory = NSTemporaryDirectory() + namespace
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: NSTemporaryDirectory() + "\(namespace)-ferry.fail.yml", toPath: directory + "/ferry.fail.yml")
        let id = try dispatcher().enqueue(.init(type: "ferry.fail", args: .object(["message": .string("card declined")]), options: .init(maxAttempts: 3)))
        let process = try worker(["--jobs-dir", directory])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }

        #expect(try eventually(timeout: 15) { try stats().queues["default"]?.dead == 1 })
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == id)
        #expect(dead.job?.attempt == 3)
        #expect(dead.error.message.contains("card declined (attempt 3 of 3, no attempts left)"))
        #expect(try stats().failed == 3)
    }

    @Test func sigtermDrainsRunningJobsAndPutsBackWhatCannotFinish() throws {
        let key = "\(namespace):ran"
        try dispatcher().enqueue(batch: recordJobs(3, key: key, ms: 800))
        let process = try worker(["--concurrency", "3", "--shutdown-timeout", "5"])
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.inFlight == 3 })
        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 15) == 0, "\(process.output.suffix(2000))")
        #expect(try count(key) == 3)
        #expect(try stats().queues["default"]?.inFlight == 0)
        #expect(try stats().workers == 0)

        // A job longer than the shutdown timeout is put back, not lost.
        let slow = "\(namespace):slow"
        try dispatcher().enqueue(batch: recordJobs(1, key: slow, ms: 10_000))
        let second = try worker(["--shutdown-timeout", "0.5"])
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.inFlight == 1 })
        second.signal(SIGTERM)
        #expect(second.waitForExit(timeout: 15) == 0, "\(second.output.suffix(2000))")
        #expect(try count(slow) == 0)
        let after = try stats().queues["default"]
        #expect(after?.ready == 1)
        #expect(after?.inFlight == 0)
    }

    @Test func aTypeConcurrencyLimitHoldsAcrossThreads() throws {
        let directory = NSTemporaryDirectory() + "\(namespace)-jobs"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "concurrency: 1\n".write(toFile: directory + "/ferry.record.yml", atomically: true, encoding: .utf8)
        let key = "\(namespace):ran"
        try dispatcher().enqueue(batch: recordJobs(4, key: key, ms: 400))
        let process = try worker(["--concurrency", "4", "--jobs-dir", directory])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        var mostAtOnce = 0
        let registry = WorkerRegistry(keys: keys)
        let finished = try eventually(timeout: 20) {
            let busy = try registry.liveWorkers(on: redis).flatMap(\.busy).filter { $0.type == "ferry.record" }.count
            mostAtOnce = max(mostAtOnce, busy)
            return try count(key) == 4
        }
        #expect(finished, "\(process.output.suffix(2000))")
        #expect(mostAtOnce == 1, "up to \(mostAtOnce) ferry.record jobs ran at once with concurrency: 1")
    }

    @Test func aPausedQueueWaitsUntilResumed() throws {
        let key = "\(namespace):ran"
        let admin = QueueAdmin(keys: keys)
        try admin.paused.pause("default", on: redis)
        try dispatcher().enqueue(batch: recordJobs(5, key: key))
        let process = try worker(["--queues", "default,other"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        // The worker is up and fetching: it ran jobs of the other queue it serves, repeatedly.
        let probe = "\(namespace):probe"
        for _ in 0..<3 {
            try dispatcher().enqueue(.init(type: "ferry.record", args: .object(["key": .string(probe)]), options: .init(queue: "other")))
            #expect(try eventually(timeout: 10) { try stats().queues["other"]?.ready == 0 && stats().queues["other"]?.inFlight == 0 })
        }
        #expect(try count(probe) == 3)
        #expect(try count(key) == 0)
        #expect(try stats().queues["default"]?.ready == 5)
        try admin.paused.resume("default", on: redis)
        #expect(try eventually(timeout: 10) { try count(key) == 5 })
    }

    @Test func timeoutsCancelAndHungJobsRecycleTheProcess() throws {
        let cooperative = try dispatcher().enqueue(.init(
            type: "ferry.sleep", args: .object(["ms": .int(20_000)]), options: .init(maxAttempts: 1, timeout: .milliseconds(500))))
        let hung = try dispatcher().enqueue(.init(
            type: "ferry.sleep", args: .object(["ms": .int(20_000), "ignore_cancel": .bool(true)]),
            options: .init(maxAttempts: 1, timeout: .milliseconds(500))))
        let process = try worker(["--concurrency", "2", "--timeout-grace", "1"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }

        #expect(try eventually(timeout: 20) { try stats().queues["default"]?.dead == 2 }, "\(process.output.suffix(3000))")
        let dead = try QueueAdmin(keys: keys).dead.jobs(on: redis)
        let byID = Dictionary(uniqueKeysWithValues: dead.map { ($0.id, $0) })
        #expect(byID[cooperative]?.error.type == "Timeout")
        #expect(byID[hung]?.error.message.contains("recycled") == true)
        // The supervisor replaced the recycled process, which keeps working.
        let key = "\(namespace):ran"
        try dispatcher().enqueue(batch: recordJobs(3, key: key))
        #expect(try eventually(timeout: 15) { try count(key) == 3 }, "\(process.output.suffix(3000))")
        #expect(process.output.contains("status=exit 75"))
    }

    @Test func quickJobsAcknowledgedInBatchesAreNotRunAgainAfterKill9() throws {
        // Quick jobs are acknowledged a batch at a time. Those finished but not yet acknowledged
        // when the process is killed are in its ledger, so recovery counts them done: only the
        // jobs running at each kill (at most one per job thread) run twice.
        let key = "\(namespace):ran"
        let ids = try dispatcher().enqueue(batch: recordJobs(30_000, key: key))
        let process = try worker(["--processes", "1", "--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        let kills = 3
        for round in 1...kills {
            #expect(try eventually(timeout: 30) { try count(key) > round * ids.count / 5 })
            let victim = try #require(try WorkerRegistry(keys: keys).liveWorkers(on: redis).first)
            kill(pid_t(victim.pid), SIGKILL)
            #expect(eventually(timeout: 10) { process.output.components(separatedBy: "finished before the exit").count > round },
                    "\(process.output.suffix(2000))")
        }
        #expect(try eventually(timeout: 60) { try count(key) == ids.count }, "\((try? count(key)) ?? -1) of \(ids.count) ran")
        // Without the ledger every kill would run a batch's finished jobs again (up to 64 per job thread).
        let runs = try redis.command("GET", .string(key + ":runs")).int ?? 0
        #expect(runs >= ids.count && runs <= ids.count + kills * 2, "\(runs) runs of \(ids.count) jobs")
        #expect(try eventually(timeout: 10) { try stats().processed == ids.count })
        #expect(try stats().queues["default"]?.inFlight == 0)
    }

    func countJobs(_ count: Int, key: String, ms: Int = 0) -> [Dispatcher.JobRequest] {
        (0..<count).map { _ in .init(type: "ferry.count", args: .object(["key": .string(key), "ms": .int(Int64(ms))])) }
    }

    @Test func asyncJobsRunTogetherAndAKill9LosesNoneAndRunsNoFinishedOneAgain() throws {
        // ferry.count is async: each job thread runs a batch of them at once. A kill -9 catches a
        // batch mid-run: its unfinished jobs all go back as suspects (each then runs alone), the
        // finished ones are in the ledger and do not run again.
        let key = "\(namespace):counted"
        let ids = try dispatcher().enqueue(batch: countJobs(20_000, key: key))
        let process = try worker(["--processes", "1", "--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        let kills = 2
        for round in 1...kills {
            #expect(try eventually(timeout: 30) { try count(key) > round * ids.count / 4 })
            let victim = try #require(try WorkerRegistry(keys: keys).liveWorkers(on: redis).first)
            kill(pid_t(victim.pid), SIGKILL)
            #expect(eventually(timeout: 10) { process.output.components(separatedBy: "finished before the exit").count > round },
                    "\(process.output.suffix(2000))")
        }
        #expect(try eventually(timeout: 60) { try count(key) == ids.count }, "\((try? count(key)) ?? -1) of \(ids.count) ran")
        // At most a batch per job thread (64) was running at each kill.
        let runs = try redis.command("GET", .string(key + ":runs")).int ?? 0
        #expect(runs >= ids.count && runs <= ids.count + kills * 2 * 64, "\(runs) runs of \(ids.count) jobs")
        #expect(try eventually(timeout: 10) { try stats().processed == ids.count })
        #expect(try stats().queues["default"]?.inFlight == 0)
        #expect(try stats().queues["default"]?.dead == 0)
        #expect(try redis.command("HLEN", .string(keys.crashes("default"))).int == 0)  // every suspect ran and was cleared
    }

    @Test func quietModeStopsFetchingUntilResumedAndAStopWakesItsJobThreads() throws {
        let key = "\(namespace):quiet"
        let process = try worker(["--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 20) { try WorkerRegistry(keys: keys).liveWorkers(on: redis).count == 1 }, "\(process.output.suffix(2000))")
        process.signal(SIGTSTP)
        #expect(eventually(timeout: 10) { process.output.contains("quiet: no new jobs will be fetched") }, "\(process.output.suffix(2000))")
        try dispatcher().enqueue(batch: recordJobs(3, key: key))
        // Nothing is fetched while quiet (a negative: given a second to go wrong).
        Thread.sleep(forTimeInterval: 1)
        #expect(try count(key) == 0)
        #expect(try stats().queues["default"]?.ready == 3)
        process.signal(SIGTSTP)
        #expect(try eventually(timeout: 10) { try count(key) == 3 }, "\(process.output.suffix(2000))")
        // Quiet again, then stopped: the waiting job threads wake for the stop and the process drains.
        process.signal(SIGTSTP)
        #expect(eventually(timeout: 10) { process.output.components(separatedBy: "quiet: no new jobs will be fetched").count == 3 })
        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 15) == 0, "\(process.output.suffix(2000))")
    }

    @Test func aStopDuringACrashingChildsRestartDelayIsServedAtOnce() throws {
        // ferry.exit kills its process every time it runs; the supervisor restarts the child after
        // 0.2, 0.4, 0.8, 1.6, 3.2 s. A SIGTERM during the 3.2 s delay ends the supervisor at once.
        try dispatcher().enqueue(.init(type: "ferry.exit"))
        let process = try worker(["--concurrency", "1", "--crash-limit", "50"])
        defer { process.signal(SIGKILL); process.waitForExit(timeout: 10) }
        #expect(eventually(timeout: 30) { process.output.contains("restart_in_s=3.2") }, "\(process.output.suffix(3000))")
        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 2) == 0, "\(process.output.suffix(2000))")
    }

    @Test func asyncJobsEnqueueTypedJobsOverTheirThreadsPipeline() throws {
        // 200 ferry.relay jobs, each enqueueing 5 ferry.count jobs with `try await context.enqueue(Count.self, …)`.
        let key = "\(namespace):relayed"
        let relays = try dispatcher().enqueue(batch: (0..<200).map { _ in
            .init(type: "ferry.relay", args: .object(["key": .string(key), "count": 5]))
        })
        let process = try worker(["--processes", "1", "--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try count(key) == relays.count * 6 }, "\((try? count(key)) ?? -1) of \(relays.count * 6) ran")
        #expect(try eventually(timeout: 10) { try stats().processed == relays.count * 6 })
        #expect(try stats().queues["default"]?.dead == 0)
    }

    @Test func asyncJobsTimeOutAndShutdownPutsTheUnfinishedBack() throws {
        let timedOut = try dispatcher().enqueue(.init(
            type: "ferry.count", args: .object(["key": .string("\(namespace):t"), "ms": .int(20_000)]),
            options: .init(maxAttempts: 1, timeout: .milliseconds(500))))
        let process = try worker(["--concurrency", "2", "--shutdown-timeout", "2"])
        #expect(try eventually(timeout: 20) { try stats().queues["default"]?.dead == 1 }, "\(process.output.suffix(3000))")
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == timedOut)
        #expect(dead.error.type == "Timeout")

        // Shutdown: a short job finishes, one longer than the shutdown timeout goes back unrun.
        let key = "\(namespace):ran"
        try dispatcher().enqueue(batch: countJobs(1, key: key, ms: 300) + countJobs(1, key: key + ":slow", ms: 10_000))
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.inFlight == 2 })
        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 40) == 0, "\(process.output.suffix(2000))")
        #expect(try count(key) == 1)
        #expect(try count(key + ":slow") == 0)
        let after = try stats().queues["default"]
        #expect(after?.ready == 1)
        #expect(after?.inFlight == 0)
        #expect(after?.dead == 1)
    }

    /// Quick jobs that run one at a time per thread (ferry.record) or together (ferry.count, async).
    @Test(arguments: ["ferry.record", "ferry.count"])
    func aJobThatKillsItsWorkerAfterQuickJobsIsTheOneBlamed(quickType: String) throws {
        // The killer comes after quick jobs of its batch: it is the job blamed, none of the
        // finished jobs runs twice, and the jobs after it in the batch go back unrun. (Async
        // jobs of its batch run together before it: once they have ended, none is blamed.)
        let key = "\(namespace):ran"
        let quick = { (count: Int) in quickType == "ferry.record" ? self.recordJobs(count, key: key) : self.countJobs(count, key: key) }
        let before = try dispatcher().enqueue(batch: quick(300))
        let killer = try dispatcher().enqueue(.init(type: "ferry.exit"))
        let after = try dispatcher().enqueue(batch: quick(300))
        let process = try worker(["--processes", "1", "--concurrency", "1"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 60) { try count(key) == before.count + after.count && stats().queues["default"]?.dead == 1 },
                "\(process.output.suffix(3000))")
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == killer)
        #expect(dead.error.type == "WorkerCrashed")
        // Three crashes, and not one record job ran twice.
        #expect(try redis.command("GET", .string(key + ":runs")).int == before.count + after.count)
        #expect(try eventually(timeout: 10) { try stats().processed == before.count + after.count })
    }

    @Test func aJobThatKillsItsWorkerThreeTimesGoesDead() throws {
        let id = try dispatcher().enqueue(.init(type: "ferry.exit"))
        let key = "\(namespace):ran"
        let process = try worker(["--processes", "2", "--concurrency", "1"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 40) { try stats().queues["default"]?.dead == 1 }, "\(process.output.suffix(3000))")
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == id)
        #expect(dead.error.type == "WorkerCrashed")
        try dispatcher().enqueue(batch: recordJobs(2, key: key))
        #expect(try eventually(timeout: 15) { try count(key) == 2 })
    }
}

/// Findings of the reliability trials, each reproduced against real worker processes.
@Suite(.serialized) struct WorkerReliabilityTests {
    let namespace = "rtest-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    func worker(_ arguments: [String], redisURL: String = TestEnvironment.redisURL) throws -> ChildProcess {
        try ChildProcess(
            [TestEnvironment.ferryBinary, "worker", "--heartbeat", "0.3", "--heartbeat-ttl", "1.5"] + defaultQueue(unless: arguments) + arguments,
            environment: ["FERRY_REDIS_URL": redisURL, "FERRY_NAMESPACE": namespace, "FERRY_LOG_LEVEL": "info"]
        )
    }

    func dispatcher(_ url: String = TestEnvironment.redisURL) throws -> Dispatcher {
        Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: url), capacity: 1), keys: keys)
    }

    func stats(_ connection: RedisConnection? = nil) throws -> FerryQueue.Stats {
        try QueueAdmin(keys: keys).queues.stats(on: connection ?? redis)
    }

    // Tests that kill connections or pause Redis use a server of their own: the shared one
    // serves other suites at the same time.

    @Test func killedConnectionsMidBatchLeaveNothingInFlightAndCountersExact() throws {
        let server = try PrivateRedisServer()
        let redis = try RedisConnection(url: server.url)
        func stats() throws -> FerryQueue.Stats { try self.stats(redis) }
        let key = "\(namespace):ran"
        let count = 6000
        let ids = try dispatcher(server.url).enqueue(batch: (0..<count).map { _ in .init(type: "ferry.record", args: .object(["key": .string(key)])) })
        let process = try worker(["--processes", "2", "--concurrency", "4"], redisURL: server.url)
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        // Kill every worker connection six times while the queue drains.
        for round in 1...6 {
            #expect(try eventually(timeout: 20) { try (redis.command("SCARD", .string(key)).int ?? 0) >= round * count / 8 })
            try redis.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        }
        #expect(try eventually(timeout: 60) { try redis.command("SCARD", .string(key)).int == ids.count },
                "\((try? redis.command("SCARD", .string(key)).int) ?? -1) of \(ids.count) ran")
        // A job whose own Redis command was cut off fails and is retried after its backoff: wait for
        // those too. Then every job was acknowledged exactly once and nothing is left anywhere.
        #expect(try eventually(timeout: 60) {
            try stats().queues["default"].map { $0.inFlight == 0 && $0.scheduled == 0 && $0.ready == 0 && $0.processed == ids.count } == true
        }, "\(String(describing: try? stats().queues["default"]))")
        #expect(try stats().queues["default"]?.dead == 0)
        #expect(process.waitForExit(timeout: 0) == nil)
    }

    @Test func twoRedisRestartsMidDrainLeaveNothingInFlightAndCountersExact() throws {
        let server = try PrivateRedisServer(extraArguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let connection = try RedisConnection(url: server.url)
        let key = "\(namespace):ran"
        let ids = try dispatcher(server.url).enqueue(batch: (0..<600).map { _ in
            .init(type: "ferry.record", args: .object(["key": .string(key), "ms": .int(5)]))
        })
        let process = try worker(["--concurrency", "4"], redisURL: server.url)
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        for round in 1...2 {
            #expect(try eventually(timeout: 30) { try ((try? RedisConnection(url: server.url))?.command("SCARD", .string(key)).int ?? 0) >= round * 150 })
            server.stop()
            usleep(500_000)
            try server.start()
        }
        let fresh = try RedisConnection(url: server.url)
        #expect(try eventually(timeout: 60) { try fresh.command("SCARD", .string(key)).int == ids.count })
        // Jobs whose own Redis command failed in the restart are retried after their backoff.
        #expect(try eventually(timeout: 60) {
            try stats(fresh).queues["default"].map { $0.inFlight == 0 && $0.scheduled == 0 && $0.ready == 0 && $0.processed == ids.count } == true
        }, "\(String(describing: try? stats(fresh).queues["default"]))")
        #expect(try stats(fresh).queues["default"]?.dead == 0)
        _ = connection
    }

    @Test func aPoisonJobIsRetiredWithinSecondsWhileABystanderSucceeds() throws {
        let key = "\(namespace):bystander"
        let bystander = try dispatcher().enqueue(.init(type: "ferry.record", args: .object(["key": .string(key), "ms": .int(800)])))
        let started = Date()
        let poison = try dispatcher().enqueue(.init(type: "ferry.exit"))
        let process = try worker(["--concurrency", "2"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 30) { try stats().queues["default"]?.dead == 1 }, "\(process.output.suffix(3000))")
        let retiredAfter = Date().timeIntervalSince(started)
        let dead = try #require(try QueueAdmin(keys: keys).dead.jobs(on: redis).first)
        #expect(dead.id == poison)
        #expect(dead.error.type == "WorkerCrashed")
        #expect(retiredAfter < 15, "retired after \(retiredAfter) s")
        // The bystander ran beside the poison job once, then alone, and succeeded.
        #expect(try eventually(timeout: 10) { try redis.command("SISMEMBER", .string(key), .string(bystander)).int == 1 })
        #expect(try eventually(timeout: 10) { try stats().queues["default"].map { $0.inFlight == 0 && $0.ready == 0 } == true })
        #expect(try redis.command("HLEN", .string(keys.crashes("default"))).int == 0)
        #expect(process.output.contains("running a crash suspect alone"))
    }

    @Test func jobsThatHarmTheirWorkerAreRefusedUnlessTestJobsAreEnabled() throws {
        let exit = try dispatcher().enqueue(.init(type: "ferry.exit"))
        let hang = try dispatcher().enqueue(.init(type: "ferry.sleep", args: .object(["ms": .int(50), "ignore_cancel": .bool(true)])))
        let process = try ChildProcess(
            [TestEnvironment.ferryBinary, "worker", "--heartbeat", "0.3", "--heartbeat-ttl", "1.5", "--queues", "default"],
            environment: ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_TEST_JOBS": "0"]
        )
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.dead == 2 })
        let dead = try QueueAdmin(keys: keys).dead.jobs(on: redis)
        for id in [exit, hang] {
            let job = try #require(dead.first { $0.id == id })
            #expect(job.error.type == "PermanentJobError")
            #expect(job.error.message.contains("set FERRY_TEST_JOBS=1"), "\(job.error.message)")
        }
        #expect(process.waitForExit(timeout: 0) == nil)
        #expect(!process.output.contains("worker process exited"))
    }

    @Test func aWireJobOnAnUnregisteredQueueIsRecoveredAfterKill9() throws {
        let key = "\(namespace):wire"
        let job = Job(type: "ferry.record", queue: "wire", args: .object(["key": .string(key), "ms": .int(1500)]), maxAttempts: 3)
        // Written as another language would: straight to the ready list, no ns:queues entry.
        try redis.command("LPUSH", .string(keys.ready("wire")), .bytes(job.encoded()))
        let process = try worker(["--queues", "wire", "--concurrency", "1"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        var victim: WorkerInfo?
        #expect(try eventually(timeout: 10) {
            victim = try WorkerRegistry(keys: keys).liveWorkers(on: redis).first { !$0.busy.isEmpty }
            return victim != nil
        })
        kill(pid_t(try #require(victim).pid), SIGKILL)
        #expect(try eventually(timeout: 15) { try redis.command("SISMEMBER", .string(key), .string(job.id)).int == 1 }, "\(process.output.suffix(2000))")
        #expect(try eventually(timeout: 5) { try stats().queues["wire"].map { $0.inFlight == 0 && $0.processed == 1 } == true })
    }

    @Test func aTimeoutTheWatchdogRecordsDuringAPauseIsWrittenOnceRedisAnswers() throws {
        let server = try PrivateRedisServer()
        let redis = try RedisConnection(url: server.url)
        func stats() throws -> FerryQueue.Stats { try self.stats(redis) }
        let id = try dispatcher(server.url).enqueue(.init(
            type: "ferry.sleep", args: .object(["ms": .int(60_000), "ignore_cancel": .bool(true)]),
            options: .init(maxAttempts: 3, timeout: .seconds(1))
        ))
        let process = try worker(["--concurrency", "1", "--timeout-grace", "0.5"], redisURL: server.url)
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 40) }
        #expect(try eventually(timeout: 10) { try WorkerRegistry(keys: keys).liveWorkers(on: redis).contains { !$0.busy.isEmpty } })
        // Writes block for 14 s from before the watchdog gives up on the job (1.5 s after its start).
        try redis.command("CLIENT", "PAUSE", "14000", "WRITE")
        defer { _ = try? redis.command("CLIENT", "UNPAUSE") }
        // Once writes go through, the attempt is recorded as a timeout and the job waits for its retry.
        #expect(try eventually(timeout: 40) {
            try QueueAdmin(keys: keys).scheduled.jobs(on: redis).contains { $0.job.id == id && $0.job.error?.type == "Timeout" }
        }, "\(process.output.suffix(3000))")
        #expect(try eventually(timeout: 10) { try stats().queues["default"]?.inFlight == 0 })
        #expect(try redis.command("HLEN", .string(keys.crashes("default"))).int == 0)
        #expect(process.output.contains("job ignored its timeout; recycling the worker process"))
    }
}
