@testable import FerryCelery
import FerryQueue
import FerryTestSupport
import FerryWorker
import Foundation
import Testing

/// Celery's messages as kombu writes them (captured from celery 5.7.0 / kombu 5.7.0 writing to
/// Redis), turned into Ferry jobs, and everything else refused with its reason — never a trap.
@Suite struct CeleryMessageTests {
    /// `app.send_task("app.tasks.send_digest", args=[42, "weekly"], kwargs={"lang": "de"})`
    static let digest = #"{"body": "W1s0MiwgIndlZWtseSJdLCB7ImxhbmciOiAiZGUifSwgeyJjYWxsYmFja3MiOiBudWxsLCAiZXJyYmFja3MiOiBudWxsLCAiY2hhaW4iOiBudWxsLCAiY2hvcmQiOiBudWxsfV0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "app.tasks.send_digest", "id": "f7922e5c-b9e0-4a64-b6ed-9526860fa630", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "f7922e5c-b9e0-4a64-b6ed-9526860fa630", "parent_id": null, "argsrepr": "[42, 'weekly']", "kwargsrepr": "{'lang': 'de'}", "origin": "gen10871@vm", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "f7922e5c-b9e0-4a64-b6ed-9526860fa630", "reply_to": "d1dc19f8-a964-39c1-af20-ee90ee912c49", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "b03edb48-756f-4bf6-85d1-5af11fd3079b"}}"#
    /// `app.send_task("email.send", kwargs={"to": "a@b.c"}, countdown=30, expires=120, priority=5, time_limit=60)`
    static let delayed = #"{"body": "W1tdLCB7InRvIjogImFAYi5jIn0sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "email.send", "id": "68056041-5318-4600-b49f-254bde9ac387", "shadow": null, "eta": "2026-12-07T21:44:17.474323+00:00", "expires": "2026-12-07T21:45:47.474323+00:00", "group": null, "group_index": null, "retries": 0, "timelimit": [60, null], "root_id": "68056041-5318-4600-b49f-254bde9ac387", "parent_id": null, "argsrepr": "()", "kwargsrepr": "{'to': 'a@b.c'}", "origin": "gen10871@vm", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "68056041-5318-4600-b49f-254bde9ac387", "reply_to": "d1dc19f8-a964-39c1-af20-ee90ee912c49", "delivery_mode": 2, "expiration": "120000", "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 5, "body_encoding": "base64", "delivery_tag": "949414fe-2bf8-4a73-9629-ab173d7ac0ce"}}"#

    func tasks(_ settings: [String: JobSettings]) throws -> CeleryTasks {
        try CeleryTasks(settings: settings)
    }

    @Test func aTaskWithPositionalArgumentsBecomesAJobWithNamedOnes() throws {
        let message = try CeleryMessage.parse(Array(Self.digest.utf8))
        #expect(message.id == "f7922e5c-b9e0-4a64-b6ed-9526860fa630" && message.task == "app.tasks.send_digest")
        #expect(message.args == [42, "weekly"] && message.kwargs == ["lang": "de"] && message.eta == nil && !message.ignoreResult)
        var settings = JobSettings(queue: "mail", maxAttempts: 5)
        settings.celeryName = "app.tasks.send_digest"
        settings.celeryArguments = ["user_id", "period"]
        let job = try tasks(["notifications.digest": settings]).job(for: message, now: Date(timeIntervalSince1970: 1_795_500_000))
        #expect(job.id == message.id && job.type == "notifications.digest" && job.queue == "mail" && job.attempt == 1 && job.maxAttempts == 5)
        #expect(job.args == ["user_id": 42, "period": "weekly", "lang": "de"])
        #expect(job.origin == ["protocol": "celery", "task": "app.tasks.send_digest", "result": true])
        #expect(try Job.decode(job.encoded()) == job)
    }

    @Test func etaExpiresAndTimeLimitsAreKept() throws {
        let message = try CeleryMessage.parse(Array(Self.delayed.utf8))
        let eta = try #require(message.eta), expires = try #require(message.expires)
        #expect(abs(eta.timeIntervalSince1970 - 1_796_679_857.474323) < 0.001, "\(eta.timeIntervalSince1970)")
        #expect(abs(expires.timeIntervalSince(eta) - 90) < 0.001 && message.timeLimit == 60)
        let job = try tasks(["email.send": JobSettings(queue: "mail")]).job(for: message, now: eta.addingTimeInterval(-30))
        #expect(job.runAt == eta.timeIntervalSince1970 && job.expiresAt == expires.timeIntervalSince1970 && job.timeoutS == 60)
        // An eta already past runs now.
        #expect(try tasks(["email.send": JobSettings()]).job(for: message, now: eta.addingTimeInterval(1)).runAt == nil)
        #expect(CeleryTime.parse("2026-12-07T21:44:17") == CeleryTime.parse("2026-12-07T21:44:17+00:00"))
        #expect(CeleryTime.parse("2026-12-07T23:44:17.5+02:00")?.timeIntervalSince1970 == CeleryTime.parse("2026-12-07T21:44:17.5Z")?.timeIntervalSince1970)
    }

    func message(
        headers: String = "", body: String = #"[[], {}, {}]"#, contentType: String = "application/json", encoding: String = "base64",
        task: String = "ferry.echo"
    ) -> [UInt8] {
        let encodedBody = encoding == "base64" ? Data(body.utf8).base64EncodedString() : body
        let extra = headers.isEmpty ? "" : ", " + headers
        return Array(#"{"body": "\#(encodedBody)", "content-type": "\#(contentType)", "headers": {"task": "\#(task)", "id": "t-1"\#(extra)}, "properties": {"body_encoding": "\#(encoding)"}}"#.utf8)
    }

    @Test(arguments: [
        (#"[1, 2, 3]"#, "", "application/json", "not a kombu message"),
        (#"{"body": "e30=", "headers": {}}"#, "", "application/json", "protocol 2"),
        ("", "", "application/x-python-serialize", "content type 'application/x-python-serialize' is not supported"),
        ("", "", "application/x-yaml", "pickle, yaml and msgpack are refused"),
        ("", #""group": "g-1""#, "application/json", "groups are not supported"),
        ("", #""eta": "tomorrow""#, "application/json", "eta 'tomorrow' is not an ISO 8601 time"),
        ("", #""retries": -1"#, "application/json", "retries must be a whole number"),
        ("", #""timelimit": [1e300, null]"#, "application/json", "timelimit must be seconds"),
    ])
    func malformedMessagesAreRefusedSayingWhy(raw: String, headers: String, contentType: String, reason: String) {
        let bytes = raw.isEmpty ? message(headers: headers, contentType: contentType) : Array(raw.utf8)
        #expect(throws: CeleryMessage.Refusal.self) { try CeleryMessage.parse(bytes) }
        do { _ = try CeleryMessage.parse(bytes) } catch { #expect(error.reason.contains(reason), "\(error.reason)") }
    }

    @Test func chordsCallbacksAndChainsAreRefusedAndBodiesChecked() {
        for (body, reason) in [
            (#"[[], {}, {"chord": {"task": "x"}}]"#, "chords are not supported"),
            (#"[[], {}, {"callbacks": [{"task": "x"}]}]"#, "link callbacks are not supported"),
            (#"[[], {}, {"chain": [{"task": "x", "subtask_type": "group"}]}]"#, "groups and chords are not supported"),
            (#"[[], {}, {"chain": {"task": "x"}}]"#, "embed.chain must be a list"),
            (#"[[], []]"#, "[args, kwargs, embed]"),
            (#"{"args": []}"#, "[args, kwargs, embed]"),
        ] {
            do {
                _ = try CeleryMessage.parse(message(body: body))
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.reason.contains(reason), "\(body) → \(error.reason)")
                #expect(error.id == "t-1" && error.task == "ferry.echo")
            }
        }
        do { _ = try CeleryMessage.parse(Array(#"{"body": "%%%", "content-type": "application/json", "headers": {"task": "a", "id": "b"}, "properties": {"body_encoding": "base64"}}"#.utf8)); Issue.record("accepted bad Base64") } catch {
            #expect(error.reason.contains("Base64"))
        }
    }

    @Test func aChainBecomesFerrysChainWithTheTaskIdsAndWhereEachResultGoes() throws {
        let body = #"[[], {"x": 1}, {"chain": [{"task": "app.tasks.record", "args": ["k"], "kwargs": {}, "options": {"task_id": "t-3"}, "subtask_type": null, "immutable": true}, {"task": "app.tasks.digest", "args": ["weekly"], "kwargs": {}, "options": {"task_id": "t-2"}, "subtask_type": null, "immutable": false}]}]"#
        let message = try CeleryMessage.parse(message(body: body))
        #expect(message.chain.map(\.task) == ["app.tasks.digest", "app.tasks.record"])
        var digest = JobSettings(), record = JobSettings()
        digest.celeryName = "app.tasks.digest"
        digest.celeryArguments = ["user", "period"]
        record.celeryName = "app.tasks.record"
        record.celeryArguments = ["key"]
        let job = try tasks(["ferry.echo": JobSettings(), "notifications.digest": digest, "ferry.record": record]).job(for: message)
        let second = try #require(job.then?.object), third = try #require(second["then"]?.object)
        #expect(second["type"] == "notifications.digest" && second["id"] == "t-2" && second["args"] == ["period": "weekly"] && second["result_as"] == "user")
        #expect(third["type"] == "ferry.record" && third["id"] == "t-3" && third["args"] == ["key": "k"] && third["result_as"] == .null)
        #expect(third["origin"] == ["protocol": "celery", "task": "app.tasks.record", "result": true])
        // The next job's request, as the worker will enqueue it.
        let next = try Chain.link(.object(second))
        #expect(next.options.id == "t-2" && next.type == "notifications.digest")
    }

    @Test func unknownTasksAndUnnamedPositionalArgumentsAreRefused() throws {
        let tasks = try tasks(["ferry.echo": JobSettings()])
        let unknown = try CeleryMessage.parse(Array(Self.digest.utf8))
        #expect(throws: CeleryMessage.Refusal.self) { try tasks.job(for: unknown) }
        let positional = try CeleryMessage.parse(message(body: #"[[1], {}, {}]"#))
        do { _ = try tasks.job(for: positional); Issue.record("accepted an unnamed positional argument") } catch {
            #expect(error.reason.contains("1 positional argument") && error.reason.contains("jobs/ferry.echo.yml"), "\(error.reason)")
        }
        var named = JobSettings()
        named.celeryArguments = ["a"]
        let twice = try CeleryMessage.parse(message(body: #"[[1], {"a": 2}, {}]"#))
        #expect(throws: CeleryMessage.Refusal.self) { try self.tasks(["ferry.echo": named]).job(for: twice) }
    }

    @Test func aNameGivenInSettingsWinsOverATypeOfThatNameAndTwoClaimsConflict() throws {
        let message = try CeleryMessage.parse(message(body: #"[[], {"key": "k"}, {}]"#, task: "ferry.record"))
        var count = JobSettings(queue: "fast")
        count.celeryName = "ferry.record"
        // Whatever order the types come in (other types around them change it), the explicit mapping takes the task.
        for others in 0..<20 {
            var settings = ["ferry.record": JobSettings(), "ferry.count": count]
            for other in 0..<others { settings["other.\(other)"] = JobSettings() }
            let job = try tasks(settings).job(for: message)
            #expect(job.type == "ferry.count" && job.queue == "fast")
        }
        do {
            _ = try tasks(["ferry.count": count, "ferry.echo": count])
            Issue.record("two types took the same Celery task")
        } catch let conflict as CeleryTasks.Conflict {
            #expect(conflict.types == ["ferry.count", "ferry.echo"] && conflict.description.contains("jobs/ferry.count.yml and jobs/ferry.echo.yml"), "\(conflict)")
        }
    }

    @Test func randomCorruptionsOfRealMessagesNeverTrap() throws {
        var generator = SeededGenerator(seed: 36)
        let tasks = try tasks(["email.send": JobSettings(), "app.tasks.send_digest": JobSettings()])
        for base in [Self.digest, Self.delayed].map({ Array($0.utf8) }) {
            for _ in 0..<3000 {
                var bytes = base
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0...2, using: &generator) {
                    case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                    case 1: bytes.remove(at: index)
                    default: bytes.insert(UInt8.random(in: 32...126, using: &generator), at: index)
                    }
                }
                if let message = try? CeleryMessage.parse(bytes) { _ = try? tasks.job(for: message) }
            }
        }
    }

    @Test func resultsAreWrittenAsCelerysBackendWritesThem() throws {
        let date = Date(timeIntervalSince1970: 1_796_679_857.474323)
        #expect(CeleryResults.isoformat(date) == "2026-12-07T21:44:17.474323+00:00")
        let success = try JSONDecoder().decode(JSONValue.self, from: Data(CeleryResults.meta(id: "t-1", .success(result: Array(#"{"a": 1}"#.utf8)), at: date)))
        #expect(success == ["status": "SUCCESS", "result": ["a": 1], "traceback": nil, "children": [], "date_done": "2026-12-07T21:44:17.474323+00:00", "task_id": "t-1"])
        let failure = try JSONDecoder().decode(JSONValue.self, from: Data(CeleryResults.meta(id: "t-2", .failure(type: "PostgresError", message: "say \"no\""), at: date)))
        #expect(failure["status"] == "FAILURE" && failure["result"] == ["exc_type": "PostgresError", "exc_message": [#"say "no""#], "exc_module": "ferry"])
        let none = try JSONDecoder().decode(JSONValue.self, from: Data(CeleryResults.meta(id: "t-3", .success(result: nil), at: date)))
        #expect(none["result"] == .null)
    }
}
