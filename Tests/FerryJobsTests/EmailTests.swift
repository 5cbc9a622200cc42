import FerryJobs
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// `email.send` and `notifications.digest` with a real worker, real PostgreSQL and the local SMTP
/// relay (`ops/testservers/smtp-stub.py`), reading what arrived from its mail folder.
@Suite(.serialized) struct EmailTests {
    let fixture: DatabaseFixture
    let namespace = "etest-\(UUID().uuidString.prefix(8))"
    let keys: QueueKeyspace
    let redis: RedisConnection
    let dispatcher: Dispatcher
    let jobsDirectory: String

    var mailDirectory: String {
        ProcessInfo.processInfo.environment["FERRY_TEST_MAIL_DIR"] ?? "\(FileManager.default.currentDirectoryPath)/.ferry/test/mail"
    }
    var authPort: String { ProcessInfo.processInfo.environment["FERRY_TEST_SMTP_AUTH_PORT"] ?? "12526" }

    init() throws {
        fixture = try DatabaseFixture()
        keys = QueueKeyspace(namespace: namespace)
        redis = try RedisConnection(url: TestEnvironment.redisURL)
        // As the workers' dispatcher: email.send goes to its configured queue.
        dispatcher = Dispatcher(
            redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), capacity: 1), keys: keys,
            defaults: { $0 == EmailSend.type ? EnqueueDefaults(queue: EmailSend.defaultSettings.queue) : EnqueueDefaults() }
        )
        jobsDirectory = NSTemporaryDirectory() + "ferry-email-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        let templates = FileManager.default.currentDirectoryPath + "/jobs/email/templates"
        try """
            backoff: {base: 100ms, max: 1s, jitter: 0}
            parameters:
              from: "Ferry Tests <noreply@ferry.test>"
              templates: \(templates)
            """.write(toFile: jobsDirectory + "/email.send.yml", atomically: true, encoding: .utf8)
    }

    func worker(smtpURL: String = TestEnvironment.smtpURL + "?starttls=never") throws -> ChildProcess {
        try ChildProcess([TestEnvironment.ferryBinary, "worker", "--queues", "mail", "--concurrency", "4", "--jobs-dir", jobsDirectory], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "SMTP_URL": smtpURL,
            "DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)",
        ])
    }

    func send(_ args: [String: JSONValue], id: String = Job.newID()) throws -> String {
        try dispatcher.enqueue(job: Job(id: id, type: "email.send", queue: "mail", args: .object(args), maxAttempts: 5))
    }

    /// How the job ended: its result record (succeeded or dead).
    func outcome(_ id: String) throws -> JobResult? {
        try JobResults(keys: keys).wait(id: id, queue: "mail", timeout: .seconds(30), on: try RedisConnection(url: TestEnvironment.redisURL))
    }

    /// The messages the relay stored with this Message-ID.
    func delivered(_ messageID: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: mailDirectory).filter { $0.hasSuffix(".eml") }.compactMap { name in
            let text = try String(contentsOfFile: "\(mailDirectory)/\(name)", encoding: .utf8)
            return text.contains("Message-ID: \(messageID)") ? text : nil
        }
    }

    /// The decoded body of the MIME part with this content type.
    func part(_ message: String, _ contentType: String) -> String? {
        guard let start = message.range(of: "Content-Type: \(contentType)") else { return nil }
        let rest = message[start.upperBound...]
        guard let body = rest.range(of: "\r\n\r\n") else { return nil }
        let encoded = rest[body.upperBound...].prefix { $0 != "-" }.filter { !$0.isWhitespace }
        return Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) }
    }

    func messageID(ofKey key: String) throws -> String {
        try fixture.db.query("SELECT message_id FROM email_deliveries WHERE key = $1", [key]).first?.decode("message_id", as: String.self) ?? "?"
    }

    @Test func aTemplatedMailIsMultipartEncodedEscapedAndSentOnce() throws {
        let worker = try worker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let key = "welcome:\(UUID().uuidString)"
        let id = try send([
            "to": .string("Jörg Ähnlich <joerg@example.com>"), "template": .string("welcome"), "locale": .string("de"),
            "vars": .object(["name": .string("Jörg <b>&"), "app": .string("Ferry")]), "idempotency_key": .string(key),
            "headers": .object(["X-Campaign": .string("onboarding")]),
        ])
        let result = try #require(try outcome(id), "\(worker.output.suffix(2000))")
        #expect(result.status == .succeeded && result.value?["status"] == .string("sent"), "\(result)")
        let mails = try delivered(try messageID(ofKey: key))
        #expect(mails.count == 1)
        let mail = try #require(mails.first)
        // German template, RFC 2047 subject and display name, multipart/alternative.
        #expect(mail.contains("Subject: =?UTF-8?B?\(Data("Willkommen bei Ferry, Jörg <b>&!".utf8).base64EncodedString())?="), "\(mail)")
        #expect(mail.contains("To: =?UTF-8?B?\(Data("Jörg Ähnlich".utf8).base64EncodedString())?= <joerg@example.com>"))
        #expect(mail.contains("multipart/alternative") && mail.contains("X-Campaign: onboarding"))
        #expect(part(mail, "text/plain; charset=utf-8")?.contains("Hallo Jörg <b>&,") == true, "\(mail)")
        // Variables are escaped in the HTML part only.
        #expect(part(mail, "text/html; charset=utf-8")?.contains("<p>Hallo Jörg &lt;b&gt;&amp;,</p>") == true)

        // The same job again (a retry after the relay accepted): nothing is sent a second time.
        let again = try send(["to": .string("joerg@example.com"), "template": .string("welcome"), "vars": .object(["name": "x", "app": "y"]),
                              "idempotency_key": .string(key)])
        let second = try #require(try outcome(again))
        #expect(second.value?["note"]?.string?.contains("not sent again") == true, "\(second)")
        #expect(try delivered(try messageID(ofKey: key)).count == 1)
        #expect(try fixture.int("SELECT attempts FROM email_deliveries WHERE key = $1", [key]) == 2)
    }

    @Test func aBusyRelayIsRetriedAndARefusedAddressIsSuppressed() throws {
        let worker = try worker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        // 421 at the first attempt, accepted at the second.
        let busy = "busy-\(UUID().uuidString.prefix(8))@example.com"
        let retried = try send(["to": .string(busy), "subject": "Hi", "text": "Hello", "idempotency_key": .string("busy:\(busy)")])
        let ok = try #require(try outcome(retried), "\(worker.output.suffix(2000))")
        #expect(ok.status == .succeeded)
        #expect(try fixture.int("SELECT attempts FROM email_deliveries WHERE key = $1", ["busy:\(busy)"]) == 2)
        #expect(try delivered(try messageID(ofKey: "busy:\(busy)")).count == 1)

        // 550: dead with the relay's reply, and the address suppressed.
        let refused = "reject-\(UUID().uuidString.prefix(8))@example.com"
        let dead = try #require(try outcome(try send(["to": .string(refused), "subject": "Hi", "text": "Hello"])))
        #expect(dead.status == .dead && dead.error?.message.contains("550") == true, "\(dead)")
        #expect(try EmailDeliveries.suppression(of: refused.uppercased(), on: fixture.db)?.contains("550") == true)
        // Later mail to it is skipped with the reason, not sent and not dead.
        let skipped = try #require(try outcome(try send(["to": .string(refused), "subject": "Hi", "text": "again"])))
        #expect(skipped.status == .succeeded && skipped.value?["status"] == .string("skipped"), "\(skipped)")
        // An admin lifts it: from the terminal, or by enqueueing email.unsuppress over the admin API.
        let environment = ["DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)"]
        let listed = try ChildProcess([TestEnvironment.ferryBinary, "email", "suppressions"], environment: environment)
        #expect(listed.waitForExit(timeout: 30) == 0 && listed.output.contains(refused.lowercased()), "\(listed.output)")
        let lifted = try ChildProcess([TestEnvironment.ferryBinary, "email", "unsuppress", refused], environment: environment)
        #expect(lifted.waitForExit(timeout: 30) == 0, "\(lifted.output)")
        #expect(try EmailDeliveries.suppression(of: refused, on: fixture.db) == nil)
        try fixture.db.query("INSERT INTO email_suppressions (address, reason) VALUES ('gone@example.com', '550 test')")
        let unsuppress = try dispatcher.enqueue(.init(type: "email.unsuppress", args: .object(["address": "gone@example.com"]), options: .init(queue: "mail")))
        #expect(try outcome(unsuppress)?.value?["lifted"] == .bool(true))
    }

    @Test(arguments: [
        (["to": "a@example.com", "template": "no-such-template"], "unknown template 'no-such-template'"),
        (["to": "a@example.com", "template": "welcome", "vars": ["name": "A"]], "uses the variable 'app', which the job did not give"),
        (["to": "a@example.com", "template": "../../etc"], "is not a template name"),
        (["to": "not an address", "subject": "s", "text": "t"], "is not an email address"),
        (["to": "a@example.com", "subject": "s"], "give a template (with vars), or subject and text"),
        (["to": "a@example.com", "subject": "s", "text": "t", "headers": ["Bcc": "x@example.com"]], "header 'Bcc' is not allowed"),
        (["to": "a@example.com", "subject": "s", "text": "t", "headers": ["X-Campaign": "a\r\nBcc: x@example.com"]], "contains a line break"),
    ] as [([String: JSONValue], String)])
    func badMailsGoDeadWithTheReason(args: [String: JSONValue], reason: String) throws {
        let worker = try worker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let dead = try #require(try outcome(try send(args)), "\(worker.output.suffix(2000))")
        #expect(dead.status == .dead, "\(dead)")
        #expect(dead.error?.message.contains(reason) == true, "\(String(describing: dead.error))")
    }

    @Test func withoutSMTPTheWorkerSaysSoAtStartAndMailsWaitWithoutSpendingAttempts() throws {
        let worker = try worker(smtpURL: "")
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        #expect(eventually(timeout: 20) { worker.output.contains("SMTP_URL is not set: jobs of email.send will wait in the retries (no attempt spent)") }, "\(worker.output.suffix(2000))")
        let id = try send(["to": "a@example.com", "subject": "s", "text": "t"])
        // Back in the scheduled set as a retry, its attempt not spent, the reason on it.
        var found: ScheduledJob?
        #expect(try eventually(timeout: 20) {
            found = try QueueAdmin(keys: keys).scheduled.jobs(queue: "mail", limit: 10, on: redis).first { $0.job.id == id }
            return found != nil
        }, "\(worker.output.suffix(2000))")
        let waiting = try #require(found)
        #expect(waiting.isRetry && waiting.job.attempt == 1 && waiting.job.error?.type == "MissingService", "\(waiting.job)")
        #expect(waiting.job.error?.message.contains("email.send needs SMTP_URL, which is not set for this worker") == true, "\(String(describing: waiting.job.error))")
        #expect(waiting.runAt > Date().timeIntervalSince1970 + 30, "tried again in a minute, not at once")
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["mail"]?.dead == 0)
    }

    @Test func credentialsNeedTLSAndAWrongPasswordIsNamedWithoutThePassword() throws {
        // Credentials without TLS to a relay that offers none: refused before AUTH.
        let plain = try worker(smtpURL: "smtp://ferry:relay-secret@127.0.0.1:\(authPort)")
        let refused = try #require(try outcome(try send(["to": "a@example.com", "subject": "s", "text": "t"])), "\(plain.output.suffix(2000))")
        plain.signal(SIGTERM)
        plain.waitForExit(timeout: 30)
        #expect(refused.status == .dead && refused.error?.message.contains("TLS") == true, "\(refused)")

        // A wrong password (TLS waived for the loopback test relay).
        let wrong = try worker(smtpURL: "smtp://ferry:not-the-secret@127.0.0.1:\(authPort)?starttls=never")
        defer { wrong.signal(SIGTERM); wrong.waitForExit(timeout: 30) }
        let dead = try #require(try outcome(try send(["to": "a@example.com", "subject": "s", "text": "t"])))
        #expect(dead.status == .dead && dead.error?.message.contains("refused the credentials") == true, "\(dead)")
        #expect(dead.error?.message.contains("not-the-secret") == false)
        #expect(!wrong.output.contains("not-the-secret"))
    }

    @Test func theDigestMailsEachEligibleUserOncePerDay() throws {
        let db = fixture.db
        // 1: Berlin, 09:00 local at the tick — due. 2: Los Angeles, 00:00 local — not yet.
        // 3: Berlin, opted out. 4: no address. 5: Berlin, nothing new. 6: a time zone PostgreSQL does not know.
        try db.query("""
            INSERT INTO users (id, handle, email, time_zone, digest_opt_out, locale) VALUES
              (1, 'ada', 'ada@example.com', 'Europe/Berlin', false, 'de'), (2, 'bob', 'bob@example.com', 'America/Los_Angeles', false, 'en'),
              (3, 'cy', 'cy@example.com', 'Europe/Berlin', true, 'en'), (4, 'di', NULL, 'Europe/Berlin', false, 'en'),
              (5, 'ed', 'ed@example.com', 'Europe/Berlin', false, 'en'), (6, 'fi', 'fi@example.com', 'Mars/Olympus', false, 'en'),
              (7, 'gus', 'gus@example.com', 'UTC', false, 'en')
            """)
        let tick = try #require(ISO8601DateFormatter().date(from: "2026-11-24T08:00:00Z"))
        try db.query("INSERT INTO posts (id, user_id, body, created_at) SELECT g, g, 'post', $1::timestamptz - interval '2 hours' FROM generate_series(1, 6) g", [tick])
        try db.query("INSERT INTO comments (post_id, user_id, body, created_at) SELECT g, 7, 'nice', $1::timestamptz - interval '1 hour' FROM generate_series(1, 4) g", [tick])
        try db.query("INSERT INTO comments (post_id, user_id, body, created_at) VALUES (6, 7, 'x', $1::timestamptz - interval '1 hour')", [tick])
        try db.query("INSERT INTO likes (post_id, user_id, created_at) VALUES (1, 7, $1::timestamptz - interval '1 hour'), (2, 7, $1::timestamptz - interval '1 hour')", [tick])
        try db.query("INSERT INTO stories (id, user_id, body, expires_at) VALUES (1, 1, 's', $1::timestamptz + interval '1 day')", [tick])
        try db.query("INSERT INTO story_reactions (story_id, user_id, emoji, created_at) VALUES (1, 7, '🔥', $1::timestamptz - interval '1 hour')", [tick])

        // Two runs at once (two schedulers' ticks), then a third later that day.
        let results = LockedBox<[NotificationsDigest.Outcome]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            let configuration = fixture.configuration
            Thread.detachNewThread { [dispatcher] in
                defer { group.leave() }
                guard let connection = try? PostgresConnection(configuration: configuration),
                      let outcome = try? NotificationsDigest.run(at: tick, dispatcher: dispatcher, on: connection) else { return }
                results.mutate { $0.append(outcome) }
            }
        }
        group.wait()
        #expect(results.value.count == 2)
        _ = try NotificationsDigest.run(at: tick.addingTimeInterval(3 * 3600), dispatcher: dispatcher, on: db)

        let queued = try (redis.command("LRANGE", .string(keys.ready("mail")), 0, -1).array ?? []).map { try Job.decode($0.bytes!) }
        // Only Ada (09:00 in Berlin, comments, likes and a reaction) is due and has news.
        #expect(queued.count == 1, "\(queued.map(\.args))")
        let ada = try #require(queued.first)
        #expect(ada.args["to"] == .string("ada@example.com") && ada.args["locale"] == .string("de"))
        #expect(ada.args["vars"]?["comments"] == .int(1) && ada.args["vars"]?["likes"] == .int(1) && ada.args["vars"]?["reactions"] == .int(1))
        #expect(ada.args["idempotency_key"] == .string("digest:1:2026-11-24") && ada.uniqueKey == "digest:1:2026-11-24")
        // Ed and Gus (due, nothing new) are marked done; Bob (not yet 08:00) is not.
        #expect(try fixture.int("SELECT count(*)::int FROM users WHERE last_digest_on = '2026-11-24'") == 3)
        #expect(try fixture.int("SELECT count(*)::int FROM users WHERE id = 2 AND last_digest_on IS NULL") == 1)
        // Sent through the worker: one mail, in German.
        let worker = try worker()
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let sent = try #require(try outcome(ada.id), "\(worker.output.suffix(2000))")
        #expect(sent.status == .succeeded)
        let mail = try #require(try delivered(try messageID(ofKey: "digest:1:2026-11-24")).first)
        #expect(part(mail, "text/plain; charset=utf-8")?.contains("Hallo ada") == true, "\(mail)")
    }
}

/// A value shared between threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    // @unchecked Sendable: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
