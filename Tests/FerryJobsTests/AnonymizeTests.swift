@testable import FerryJobs
import FerryHTTP
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// `anonymize.batch` end to end: a real worker, real PostgreSQL, files under an import root.
@Suite struct AnonymizeTests {
    let fixture: DatabaseFixture
    let namespace = "anon-\(UUID().uuidString.prefix(8))"
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-anon-\(UUID().uuidString.prefix(8))").path
    let redis: RedisConnection

    init() throws {
        fixture = try DatabaseFixture()
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        try FileManager.default.createDirectory(atPath: root + "/exports", withIntermediateDirectories: true)
    }

    var environment: [String: String] {
        [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
            "DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)", "FERRY_IMPORT_ROOT": root,
            "FERRY_ANONYMIZE_HASH_KEY": "test-hash-key-0123456789", "FERRY_LOG_LEVEL": "info",
        ]
    }

    var dispatcher: Dispatcher {
        get throws { Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: QueueKeyspace(namespace: namespace)) }
    }

    func worker(_ extra: [String] = []) throws -> ChildProcess {
        try ChildProcess([TestEnvironment.ferryBinary, "worker", "--queues", "anonymize", "--concurrency", "2"] + extra, environment: environment)
    }

    func enqueue(_ arguments: String) throws -> String {
        let args = try JSONDecoder().decode(JSONValue.self, from: Data(arguments.utf8))
        return try dispatcher.enqueue(.init(type: "anonymize.batch", args: args, options: .init(queue: "anonymize")))
    }

    /// The run's status once it has one of `statuses`, waiting up to `timeout` seconds.
    func runStatus(_ timeout: Double = 60) throws -> String? {
        var status: String?
        _ = try eventually(timeout: timeout) {
            status = try fixture.db.query("SELECT status FROM anonymize_runs").first?.decode("status", as: String.self)
            return status == "succeeded" || status == "failed"
        }
        return status
    }

    func runReport() throws -> [String: Any] {
        let text = try fixture.db.query("SELECT report::text AS r FROM anonymize_runs").first?.decode("r", as: String.self) ?? "{}"
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    @Test func aTableAnonymizedInPlaceSurvivesAKilledWorkerAndCountsEveryRowOnce() throws {
        let rows = 60_000
        try fixture.db.query("CREATE TABLE messages (id bigint PRIMARY KEY, body text, note text)")
        try fixture.db.query("""
            INSERT INTO messages SELECT g, 'Contact anna' || g || '@example.com about order ' || g, CASE WHEN g % 2 = 0 THEN NULL ELSE 'nothing here' END
            FROM generate_series(1, \(rows)) g
            """)
        // Masking one character is not idempotent ("*nna…" is still an address, masked again "**na…"):
        // a row anonymized twice would show.
        _ = try enqueue("""
            {"source": {"table": "messages", "key": "id", "columns": ["body", "note"]}, "target": {"in_place": true}, "chunk_rows": 20000,
             "config": {"entities": ["EMAIL_ADDRESS"], "operators": {"EMAIL_ADDRESS": {"type": "mask", "masking_char": "*", "chars_to_mask": 1}}}}
            """)
        let first = try worker(["--concurrency", "1"])
        // Kill the worker process while a chunk is part-way: some pages written, the chunk not done.
        let midway = try eventually(timeout: 60) {
            try fixture.db.query("SELECT 1 FROM anonymize_chunks WHERE last_key IS NOT NULL AND NOT done").first != nil
        }
        #expect(midway, "\(first.output.suffix(2000))")
        let victim = try #require(try WorkerRegistry(keys: QueueKeyspace(namespace: namespace)).liveWorkers(on: redis).first)
        kill(pid_t(victim.pid), SIGKILL)
        defer { first.signal(SIGTERM); first.waitForExit(timeout: 30) }
        #expect(try runStatus(120) == "succeeded", "\(first.output.suffix(3000))")
        #expect(try fixture.int("SELECT count(*)::int FROM messages WHERE body LIKE 'Contact *nna%@example.com about order %'") == rows)
        #expect(try fixture.int("SELECT count(*)::int FROM messages WHERE body LIKE '%**%'") == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM messages WHERE note IS NULL") == rows / 2)
        let report = try runReport()
        #expect(report["rows"] as? Int == rows)
        #expect((report["findings"] as? [String: Int])?["EMAIL_ADDRESS"] == rows)
        #expect(report["chunks"] as? Int == 3 && report["chunks_done"] as? Int == 3)
    }

    @Test func aTableIntoOtherColumnsAndIntoANewTable() throws {
        try fixture.db.query("CREATE TABLE profiles (id integer PRIMARY KEY, bio text, bio_anon text)")
        try fixture.db.query("""
            INSERT INTO profiles (id, bio) VALUES (1, 'Anna Schmidt, Tel. 030 12345678'), (5, 'IBAN DE89 3704 0044 0532 0130 00'), (9, 'nichts'), (12, NULL)
            """)
        _ = try enqueue(#"{"source": {"table": "profiles", "key": "id", "columns": ["bio"]}, "target": {"columns": {"bio": "bio_anon"}}, "config": {}}"#)
        let process = try worker()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        let rows = try fixture.db.query("SELECT id, bio, bio_anon FROM profiles ORDER BY id").rows
        #expect(try rows.map { try $0.decode("bio_anon", as: String?.self) } == ["<PERSON>, Tel. <PHONE_NUMBER>", "IBAN <IBAN_CODE>", "nichts", nil])
        #expect(try rows[0].decode("bio", as: String.self) == "Anna Schmidt, Tel. 030 12345678")  // the source is kept

        try fixture.db.query("DELETE FROM anonymize_runs")
        _ = try enqueue(#"{"source": {"table": "profiles", "key": "id", "columns": ["bio"]}, "target": {"table": "profiles_public"}}"#)
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        // parameters.config of jobs/anonymize.batch.yml: phone numbers masked from the end.
        let copied = try fixture.db.query("SELECT id::int AS id, bio FROM profiles_public ORDER BY id").rows
        #expect(try copied.map { try $0.decode("id", as: Int.self) } == [1, 5, 9, 12])
        #expect(try copied[0].decode("bio", as: String.self) == "<PERSON>, Tel. 030 12******")

        // The admin list (`GET /api/v1/anonymize/runs?before=ID`) and the dashboard page the runs
        // newest first by id: 21 of them here.
        try fixture.db.query("""
            INSERT INTO anonymize_runs (job_id, plan, config, chunks_total) SELECT 'copy-' || n, plan, config, 0 FROM anonymize_runs, generate_series(1, 20) n
            """)
        let newest = try AnonymizeRuns.recent(limit: 20, db: fixture.db).map(\.runID)
        let boundary = try #require(newest.last)
        let older = try AnonymizeRuns.recent(limit: 10, before: boundary, db: fixture.db).map(\.runID)
        #expect(newest.count == 20 && older.count == 1 && (newest + older) == (newest + older).sorted(by: >) && Set(newest).isDisjoint(with: older), "\(newest) \(older)")
        let port = try FreePort.find()
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: environment.merging(["FERRY_ADMIN_ADDR": "127.0.0.1:\(port)"]) { $1 })
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let http = FerryHTTPClient()
        #expect(eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/healthz")))?.status == 200 }, "\(admin.output.suffix(2000))")
        let link = "/records?resource=anonymize%2Fruns&amp;before=\(boundary)"
        let first = try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/records")).text
        #expect(first.contains("<a href=\"\(link)\">older →</a>"), "\(first.suffix(3000))")
        let second = try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)" + link.replacingOccurrences(of: "&amp;", with: "&"))).text
        #expect(second.contains("<h2 id=\"anonymize-runs\">Anonymize runs</h2>") && !second.contains("<h2 id=\"imports\">"), "\(second.suffix(3000))")
        let oldest = try #require(older.first)
        #expect(second.contains(">newest</a>") && !second.contains("older →") && second.contains("<td class=\"n\">\(oldest)</td>"), "\(second.suffix(3000))")
    }

    @Test func filesJSONLAndCSVWithBrokenRowsReported() throws {
        var jsonl = ""
        for n in 1...3000 {
            jsonl += #"{"id": \#(n), "text": "Schreib an user\#(n)@example.org, Ort: M\u00fcnchen", "meta": {"ip": "10.0.\#(n % 250).1"}}"# + "\n"
            if n == 1500 { jsonl += #"{"id": "broken, "text": "x"}"# + "\n" }
        }
        try jsonl.write(toFile: root + "/exports/comments.jsonl", atomically: true, encoding: .utf8)
        var csv = "id;comment;city\n"
        for n in 1...2000 { csv += "\(n);\"Karte 4111 1111 1111 1111; danke, Anna Weber\";Berlin\n" }
        csv += "2001;\"unclosed; quote\n2002;ok;Köln\n"
        try csv.write(toFile: root + "/exports/orders.csv", atomically: true, encoding: .utf8)

        _ = try enqueue(#"{"source": {"file": "exports/comments.jsonl", "fields": ["text"]}, "target": {"file": "exports/comments.anon.jsonl"}, "chunk_bytes": 65536, "config": {}}"#)
        let process = try worker()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        let output = try String(contentsOfFile: root + "/exports/comments.anon.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(output.count == 3000)
        #expect(output.first == #"{"id": 1, "text": "Schreib an <EMAIL_ADDRESS>, Ort: <LOCATION>", "meta": {"ip": "10.0.1.1"}}"#)  // only "text"
        var report = try runReport()
        #expect(report["rows"] as? Int == 3000 && report["rejected"] as? Int == 1)
        #expect((report["errors"] as? [String])?.first?.hasPrefix("line 1501:") == true, "\(report)")
        #expect((report["chunks"] as? Int ?? 0) > 1)
        #expect(!FileManager.default.fileExists(atPath: root + "/exports/comments.anon.jsonl.parts-1"))
        // The finish job run again after it had renamed the file (a crash before it recorded so)
        // finds the file assembled and leaves it.
        try fixture.db.query("UPDATE anonymize_runs SET status = 'running'")
        let again = try dispatcher.enqueue(.init(type: "anonymize.finish", args: .object(["run_id": .int(1)]), options: .init(queue: "anonymize")))
        let ended = try JobResults(keys: QueueKeyspace(namespace: namespace)).wait(id: again, queue: "anonymize", timeout: .seconds(30), on: redis)
        #expect(ended?.status == .succeeded, "\(String(describing: ended))")
        #expect(try String(contentsOfFile: root + "/exports/comments.anon.jsonl", encoding: .utf8).split(separator: "\n").count == 3000)
        #expect(try runStatus() == "succeeded")

        try fixture.db.query("DELETE FROM anonymize_runs")
        _ = try enqueue(#"{"source": {"file": "exports/orders.csv", "columns": ["comment"], "delimiter": ";"}, "target": {"file": "exports/orders.anon.csv"}, "config": {}}"#)
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        let lines = try String(contentsOfFile: root + "/exports/orders.anon.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "id;comment;city")
        #expect(lines.dropFirst().first == "1;\"Karte <CREDIT_CARD>; danke, <PERSON>\";Berlin")  // city column left alone
        #expect(lines.last == "2002;ok;Köln")
        report = try runReport()
        #expect(report["rows"] as? Int == 2001 && report["rejected"] as? Int == 1, "\(report)")
    }

    @Test func aChunkWaitsForAnotherWriterOfItAndAnEmptySourceStillReports() throws {
        try fixture.db.query("CREATE TABLE notes (id bigint PRIMARY KEY, body text)")
        try fixture.db.query("INSERT INTO notes SELECT g, 'Mail an user' || g || '@example.com' FROM generate_series(1, 50) g")
        // Another writer holds chunk 0 of run 1 (the schema is this test's own: the first run is 1;
        // the lock names the schema, so other tests' run 1 does not share it).
        let other = try fixture.connection()
        #expect(try other.query("SELECT pg_try_advisory_lock(\(AnonymizeChunk.lockKey), 0) AS locked", [Int64(1)]).first?.decode("locked", as: Bool.self) == true)
        _ = try enqueue(#"{"source": {"table": "notes", "key": "id", "columns": ["body"]}, "target": {"in_place": true}, "config": {}}"#)
        let process = try worker()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        #expect(try eventually(timeout: 20) { try fixture.int("SELECT count(*)::int FROM anonymize_chunks") == 1 })
        Thread.sleep(forTimeInterval: 3)
        #expect(try fixture.int("SELECT count(*)::int FROM anonymize_chunks WHERE done") == 0)
        #expect(try fixture.int("SELECT count(*)::int FROM notes WHERE body LIKE '%<EMAIL_ADDRESS>%'") == 0)
        try other.query("SELECT pg_advisory_unlock(\(AnonymizeChunk.lockKey), 0)", [Int64(1)])
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        #expect(try fixture.int("SELECT count(*)::int FROM notes WHERE body = 'Mail an <EMAIL_ADDRESS>'") == 50)
        // A chunk row someone rewrote with absurd numbers: the chunk goes dead saying so, the worker lives.
        try fixture.db.query("UPDATE anonymize_chunks SET done = false, lower_bound = -9223372036854775808")
        let broken = try dispatcher.enqueue(.init(type: "anonymize.chunk", args: .object(["run_id": .int(1), "chunk": .int(0)]), options: .init(queue: "anonymize")))
        let ended = try JobResults(keys: QueueKeyspace(namespace: namespace)).wait(id: broken, queue: "anonymize", timeout: .seconds(30), on: redis)
        #expect(ended?.status == .dead && ended?.error?.message.contains("numbers out of range") == true, "\(String(describing: ended))")
        #expect(process.waitForExit(timeout: 0) == nil)

        // An empty table: no chunk, a report all the same.
        try fixture.db.query("CREATE TABLE nothing (id bigint PRIMARY KEY, body text)")
        try fixture.db.query("DELETE FROM anonymize_runs")
        _ = try enqueue(#"{"source": {"table": "nothing", "key": "id", "columns": ["body"]}, "target": {"in_place": true}, "config": {}}"#)
        #expect(try runStatus() == "succeeded", "\(process.output.suffix(2000))")
        let report = try runReport()
        #expect(report["rows"] as? Int == 0 && report["chunks"] as? Int == 0, "\(report)")
    }

    @Test func aWrongConfigurationOrSourceGoesDeadWithTheReason() throws {
        try fixture.db.query("CREATE TABLE notes (id bigint PRIMARY KEY, body text, amount numeric, author_id int)")
        let ids = try [
            enqueue(#"{"source": {"table": "notes", "key": "id", "columns": ["body"]}, "target": {"in_place": true}, "config": {"operators": {"PERSON": {"type": "scramble"}}}}"#),
            enqueue(#"{"source": {"table": "notes", "key": "id", "columns": ["amount"]}, "target": {"in_place": true}}"#),
            enqueue(#"{"source": {"table": "nope", "key": "id", "columns": ["body"]}, "target": {"in_place": true}}"#),
            enqueue(#"{"source": {"file": "../etc/passwd"}, "target": {"file": "x.jsonl"}}"#),
            enqueue(#"{"source": {"table": "notes", "key": "id", "columns": ["body"]}, "target": {"columns": {"body": "body"}}}"#),
            enqueue(#"{"source": {"table": "notes", "key": "author_id", "columns": ["body"]}, "target": {"in_place": true}}"#),
        ]
        let process = try worker()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 30) }
        var reasons = ""
        for id in ids {
            let ended = try JobResults(keys: QueueKeyspace(namespace: namespace)).wait(id: id, queue: "anonymize", timeout: .seconds(30), on: redis)
            #expect(ended?.status == .dead, "\(String(describing: ended))\n\(process.output.suffix(2000))")
            reasons += (ended?.error?.message ?? "") + "\n"
        }
        for expected in ["operator type 'scramble' is unknown", "notes.amount is numeric", "no table 'nope'", "without '..'", "say \"in_place\": true", "notes.author_id is not unique"] {
            #expect(reasons.contains(expected), "\(reasons)")
        }
        #expect(try fixture.int("SELECT count(*)::int FROM anonymize_runs") == 0)
    }

    @Test func theCommandAnonymizesStandardInputAndRestoresEncryptedValues() throws {
        let keys = ["FERRY_ANONYMIZE_AES_KEY": "0123456789abcdef0123456789abcdef", "FERRY_ANONYMIZE_HASH_KEY": "k-0123456789abcdef"]
        let config = root + "/config.json"
        try #"{"operators": {"EMAIL_ADDRESS": {"type": "encrypt"}, "PERSON": {"type": "hash"}}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        try "Anna Schmidt: anna@example.com\nnichts hier\n".write(toFile: root + "/in.txt", atomically: true, encoding: .utf8)
        // Standard input and output through files: sh runs `ferry anonymize … < in > out`.
        func ferry(_ arguments: String, _ input: String, _ output: String, _ environment: [String: String]) throws -> (Int32?, String, String) {
            let process = try ChildProcess(["/bin/sh", "-c", "exec \"$0\" anonymize \(arguments) < \"$1\" > \"$2\"", TestEnvironment.ferryBinary, input, output], environment: environment)
            let code = process.waitForExit(timeout: 30)
            return (code, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "", process.output)
        }
        let (code, anonymized, log) = try ferry("--config '\(config)' --json", root + "/in.txt", root + "/out.jsonl", keys)
        #expect(code == 0, "\(log)")
        #expect(anonymized.split(separator: "\n").count == 2 && !anonymized.contains("anna@example.com") && !anonymized.contains("Anna Schmidt"), "\(anonymized)")
        let (restoredCode, restored, restoredLog) = try ferry("--decrypt", root + "/out.jsonl", root + "/restored.txt", keys)
        #expect(restoredCode == 0, "\(restoredLog)")
        // The address comes back; the hashed name does not (a hash is one-way).
        #expect(restored.split(separator: "\n").first?.hasSuffix(": anna@example.com") == true, "\(restored)")
        #expect(restored.split(separator: "\n").last == "nichts hier")
        let (refusedCode, _, refused) = try ferry("--config '\(config)'", root + "/in.txt", root + "/refused.txt", ["FERRY_ANONYMIZE_HASH_KEY": "k-0123456789abcdef", "FERRY_ANONYMIZE_AES_KEY": ""])
        #expect(refusedCode != 0)
        #expect(refused.contains("FERRY_ANONYMIZE_AES_KEY (not set)") && !refused.contains("Usage:"), "\(refused)")
        // Finding only runs no operator, so it needs none of their keys.
        let (analyzedCode, analyzed, analyzedLog) = try ferry("--config '\(config)' --analyze", root + "/in.txt", root + "/found.jsonl", [:])
        #expect(analyzedCode == 0, "\(analyzedLog)")
        #expect(analyzed.split(separator: "\n").first?.contains("\"entity_type\":\"EMAIL_ADDRESS\"") == true, "\(analyzed)")
    }
}
