import FerryHTTP
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing
import Yams

/// The admin endpoint run for real (`ferry admin`) and called over HTTP.
@Suite struct AdminAPITests {
    let namespace = "atest-\(UUID().uuidString.prefix(8))"
    var keys: QueueKeyspace { QueueKeyspace(namespace: namespace) }
    let http = FerryHTTPClient()
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    /// Starts `ferry admin` on a free port and waits until it answers.
    func startAdmin(token: String? = nil, address: String? = nil, arguments: [String] = []) throws -> (ChildProcess, String) {
        let port = try FreePort.find()
        var environment = [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
            "FERRY_ADMIN_ADDR": address ?? "127.0.0.1:\(port)",
        ]
        if let token { environment["FERRY_ADMIN_TOKEN"] = token }
        let process = try ChildProcess([TestEnvironment.ferryBinary, "admin"] + arguments, environment: environment)
        let base = "http://127.0.0.1:\(port)"
        // A process that exits at once (a refused configuration) is for the caller to check.
        let settled = eventually(timeout: 20) {
            (try? http.execute(FerryHTTPClient.Request(url: base + "/healthz")))?.status == 200 || process.waitForExit(timeout: 0) != nil
        }
        #expect(settled, "ferry admin neither answered /healthz nor exited within 20 s:\n\(process.output.suffix(2000))")
        return (process, base)
    }

    func call(_ method: String, _ url: String, body: String? = nil, token: String? = nil) throws -> (status: Int, json: JSONValue?) {
        var headers: FerryHTTPClient.Headers = ["Content-Type": "application/json"]
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try http.execute(FerryHTTPClient.Request(method: method, url: url, headers: headers, body: body.map { Array($0.utf8) }))
        return (response.status, try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)))
    }

    func bury(_ types: [String]) throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        try dispatcher.enqueue(batch: types.map { .init(type: $0) })
        let fetcher = Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0)))
        for job in try fetcher.fetch(from: "default", limit: types.count, on: redis) {
            let type = (try? job.job.get().type) ?? "?"
            try Settler(keys: keys).settle(job, .bury(JobFailure(type: "Boom", message: "\(type) exploded")), on: redis)
        }
    }

    @Test func statsQueuesAndHealth() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        #expect(try call("GET", base + "/healthz").json?["status"] == .string("ok"))
        let ready = try call("GET", base + "/readyz")
        #expect(ready.status == 200)
        #expect(ready.json?["checks"]?["redis"] == .string("ok"))

        let created = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "args": {"n": 1}, "queue": "mail"}"#)
        #expect(created.status == 201)
        #expect(created.json?["id"]?.string?.count == 32)
        let stats = try call("GET", base + "/api/v1/stats")
        #expect(stats.json?["queues"]?["mail"]?["ready"] == .int(1))
        #expect(try call("POST", base + "/api/v1/queues/mail/pause").status == 200)
        #expect(try call("GET", base + "/api/v1/queues").json?["queues"]?.elements?.first?["stats"]?["paused"] == .bool(true))
        #expect(try call("POST", base + "/api/v1/queues/mail/resume").status == 200)
        #expect(try call("DELETE", base + "/api/v1/queues/mail").status == 400)
        let cleared = try call("DELETE", base + "/api/v1/queues/mail?confirm=true")
        #expect(cleared.json?["deleted"] == .string("1"))

        let metrics = try http.execute(FerryHTTPClient.Request(url: base + "/metrics"))
        #expect(metrics.status == 200)
        #expect(metrics.text.contains(#"ferry_queue_ready_jobs{queue="mail"} 0.0"#), "\(metrics.text)")
        #expect(metrics.text.contains("# TYPE ferry_workers_processes gauge"))

        process.signal(SIGTERM)
        #expect(process.waitForExit(timeout: 10) == 0, "the admin server did not stop cleanly on SIGTERM: \(process.output.suffix(500))")
    }

    @Test func crossSiteRequestsForeignHostsAndNonJSONWritesAreRefused() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let job = #"{"type":"ferry.noop"}"#
        func send(_ method: String, _ path: String, _ headers: FerryHTTPClient.Headers, body: String? = nil) throws -> FerryHTTP.FerryHTTPClient.Response {
            try http.execute(FerryHTTPClient.Request(method: method, url: base + path, headers: headers, body: body.map { Array($0.utf8) }))
        }
        // What a no-cors fetch from another page can send: a text/plain body.
        let plain = try send("POST", "/api/v1/jobs", ["Content-Type": "text/plain"], body: job)
        #expect(plain.status == 415)
        #expect(try send("POST", "/api/v1/queues/default/pause", ["Content-Type": "text/plain"]).status == 415)
        #expect(try send("POST", "/api/v1/queues/default/pause", ["Content-Type": "text/plain"], body: "x").status == 415)
        // A body-less write with no content type (curl -X POST) is fine from a script.
        #expect(try send("POST", "/api/v1/queues/default/resume", [:]).status == 200)
        // A page on another origin, whatever it sends.
        for headers: FerryHTTPClient.Headers in [
            ["Content-Type": "application/json", "Origin": "http://evil.example"],
            ["Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"],
            ["Content-Type": "application/json", "Sec-Fetch-Site": "same-site"],
            ["Content-Type": "application/json", "Origin": "null"],
        ] {
            #expect(try send("POST", "/api/v1/jobs", headers, body: job).status == 403, "\(headers)")
            #expect(try send("GET", "/api/v1/stats", headers).status == 403, "\(headers)")
        }
        // DNS rebinding: the attacker's name pointing at 127.0.0.1.
        let port = base.split(separator: ":").last.map(String.init) ?? ""
        let rebound = try send("GET", "/api/v1/stats", ["Host": "evil.example:\(port)"])
        #expect(rebound.status == 421)
        #expect(try send("GET", "/", ["Host": "evil.example:\(port)"]).status == 421)
        // The same requests from the dashboard's own origin, or from a script, pass.
        #expect(try send("POST", "/api/v1/jobs", ["Content-Type": "application/json", "Origin": base, "Sec-Fetch-Site": "same-origin"], body: job).status == 201)
        #expect(try send("GET", "/api/v1/stats", ["Host": "localhost:\(port)"]).status == 200)
        #expect(try send("POST", "/api/v1/jobs", ["Content-Type": "application/json; charset=utf-8"], body: job).status == 201)
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 2)
        // Every response, errors included, forbids framing and scripts.
        for response in [try send("GET", "/", [:]), try send("GET", "/api/v1/stats", [:]), plain, rebound] {
            #expect(response.headers["X-Frame-Options"] == "DENY")
            #expect(response.headers["Content-Security-Policy"]?.contains("frame-ancestors 'none'") == true)
            #expect(response.headers["X-Content-Type-Options"] == "nosniff")
        }
    }

    @Test func aBrowserLogsInOnceAndKeepsAStrictHttpOnlySession() throws {
        let token = "t0k3n-\(UUID().uuidString)"
        let (process, base) = try startAdmin(token: token, arguments: ["--login-link"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        func get(_ path: String, cookie: String? = nil) throws -> FerryHTTP.FerryHTTPClient.Response {
            var headers: FerryHTTPClient.Headers = ["Accept": "text/html,application/xhtml+xml"]
            if let cookie { headers.add(name: "Cookie", value: cookie) }
            return try http.execute(FerryHTTPClient.Request(method: "GET", url: base + path, headers: headers))
        }
        func postForm(_ path: String, _ form: String) throws -> FerryHTTP.FerryHTTPClient.Response {
            try http.execute(FerryHTTPClient.Request(method: "POST", url: base + path, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(form.utf8)))
        }
        // No session: the dashboard sends the browser to the login page; the API wants the token.
        let anonymous = try get("/")
        #expect(anonymous.status == 303)
        #expect(anonymous.headers["Location"] == "/login")
        #expect(try get("/login").status == 200)
        #expect(try get("/api/v1/stats").status == 401)
        #expect(try postForm("/login", "token=wrong").status == 401)
        // The right token gives a session cookie the page's scripts and other sites cannot use.
        let signedIn = try postForm("/login", "token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token))
        #expect(signedIn.status == 303)
        let setCookie = try #require(signedIn.headers["Set-Cookie"])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        let cookie = String(setCookie.split(separator: ";")[0])
        #expect(try get("/", cookie: cookie).status == 200)
        #expect(try get("/api/v1/stats", cookie: cookie).status == 200)
        #expect(try get("/", cookie: "ferry_session=forged").status == 303)
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/")).status == 401)  // not a browser: no redirect
        // The one-time link printed at start logs in once.
        #expect(eventually(timeout: 5) { process.output.contains("/login?code=") })
        let link = try #require(process.output.split(separator: "\n").first { $0.contains("/login?code=") }?.split(separator: " ").last)
        let path = String(link.dropFirst(base.count))
        let first = try get(path)
        #expect(first.status == 303)
        #expect(first.headers["Set-Cookie"]?.contains("HttpOnly") == true)
        #expect(try get(path).status == 401)
        // The token never shows up in the server's output.
        #expect(!process.output.contains(token))
    }

    @Test func aLostLoginLinkIsReplacedByTheRunningServer() throws {
        let token = "t0k3n-\(UUID().uuidString)"
        let (process, base) = try startAdmin(token: token)
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let address = String(base.dropFirst("http://".count))
        func loginLink(_ environment: [String: String]) throws -> ChildProcess {
            let command = try ChildProcess([TestEnvironment.ferryBinary, "admin", "--login-link"], environment: [
                "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": address, "FERRY_ADMIN_TOKEN": "",
                "FERRY_SERVICES_DIR": NSTemporaryDirectory() + "no-such-dir-\(UUID().uuidString)",
            ].merging(environment) { $1 })
            #expect(command.waitForExit(timeout: 30) != nil, "ferry admin --login-link did not return: it must not start a second server")
            return command
        }
        // With the token in the environment: a link from the running server, which logs in once.
        let asked = try loginLink(["FERRY_ADMIN_TOKEN": token])
        #expect(asked.waitForExit(timeout: 0) == 0, "\(asked.output)")
        let link = try #require(asked.output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }, "\(asked.output)")
        #expect(link.hasPrefix(base + "/login?code="), "\(asked.output)")
        #expect(!asked.output.contains("Address already in use") && !asked.output.contains(token))
        let first = try http.execute(FerryHTTPClient.Request(url: link, headers: ["Accept": "text/html"]))
        #expect(first.status == 303 && first.headers["Set-Cookie"]?.contains("ferry_session=") == true)
        #expect(try http.execute(FerryHTTPClient.Request(url: link)).status == 401)
        // With the token where `ferry up` keeps it.
        let directory = NSTemporaryDirectory() + "ferry-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/secrets", withIntermediateDirectories: true)
        try token.write(toFile: directory + "/secrets/admin.token", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fromFile = try loginLink(["FERRY_SERVICES_DIR": directory])
        #expect(fromFile.waitForExit(timeout: 0) == 0 && fromFile.output.contains(base + "/login?code="), "\(fromFile.output)")
        // A wrong token, or none: a message that says what to do, and no second server.
        let wrong = try loginLink(["FERRY_ADMIN_TOKEN": "not-the-token"])
        #expect(wrong.waitForExit(timeout: 0) == 1 && wrong.output.contains("refused the token"), "\(wrong.output)")
        let none = try loginLink([:])
        #expect(none.waitForExit(timeout: 0) == 1 && none.output.contains("set FERRY_ADMIN_TOKEN"), "\(none.output)")
        // The login page says where the token is.
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/login")).text.contains(".ferry/services/secrets/admin.token"))
        // A server without a token has no links to give.
        let (open, openBase) = try startAdmin()
        defer { open.signal(SIGTERM); open.waitForExit(timeout: 10) }
        #expect(try call("POST", openBase + "/api/v1/login-links").status == 409)
    }

    @Test func slowClientsAreCutOffWhileHealthzKeepsAnswering() throws {
        let (process, base) = try startAdmin(arguments: ["--header-timeout", "1"])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let port = UInt16(base.split(separator: ":").last.map(String.init) ?? "") ?? 0
        // 300 connections that send half a request head and stall (slowloris).
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for _ in 0..<300 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            let partial = "GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            _ = partial.withCString { send(fd, $0, strlen($0), 0) }
            sockets.append(fd)
        }
        // The server still answers others at once.
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/healthz")).status == 200)
        // After the header timeout, the stalled connections are closed by the server.
        var closed = 0
        let deadline = Date().addingTimeInterval(10)
        for fd in sockets {
            var timeout = timeval(tv_sec: max(1, Int(deadline.timeIntervalSinceNow)), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            if recv(fd, &byte, 1, 0) <= 0, errno != EAGAIN { closed += 1 }
        }
        #expect(closed == sockets.count, "\(closed) of \(sockets.count) stalled connections were closed")
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/healthz")).status == 200)
        #expect(process.waitForExit(timeout: 0) == nil)
    }

    @Test func badInputGetsAClearJSONError() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let missingType = try call("POST", base + "/api/v1/jobs", body: #"{"args": {}}"#)
        #expect(missingType.status == 400)
        #expect(missingType.json?["error"]?["code"] == .string("bad_request"))
        #expect(missingType.json?["error"]?["message"]?.string?.contains("missing field 'type'") == true)
        let notJSON = try call("POST", base + "/api/v1/jobs", body: "{nope")
        #expect(notJSON.status == 400)
        let badArgs = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "args": [1]}"#)
        #expect(badArgs.status == 400)
        #expect(badArgs.json?["error"]?["message"]?.string?.contains("must be a JSON object") == true)
        let both = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "run_at": 1, "delay_s": 5}"#)
        #expect(both.status == 400)
        let big = String(repeating: "a", count: 600 * 1024)
        let tooLarge = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "args": {"blob": "\#(big)"}}"#)
        #expect(tooLarge.status == 413)
        let huge = String(repeating: "a", count: 2 * 1024 * 1024)
        #expect(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "args": {"blob": "\#(huge)"}}"#).status == 413)
        // A type the app registers no handler for: refused with the closest known one, unless
        // another fleet serves it; the chain's and the batch's types too.
        let typo = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.nop"}"#)
        #expect(typo.status == 400 && typo.json?["error"]?["code"] == .string("unknown_type"), "\(String(describing: typo.json))")
        #expect(typo.json?["error"]?["message"]?.string?.contains("no job type 'ferry.nop' is registered (did you mean 'ferry.noop'?); known types: ") == true, "\(String(describing: typo.json))")
        #expect(try call("POST", base + "/api/v1/jobs", body: #"{"type": "billing.invoice", "allow_unknown": true}"#).status == 201)
        let chained = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "then": {"type": "ferry.noop", "then": {"type": "ferry.ecco"}}}"#)
        #expect(chained.status == 400 && chained.json?["error"]?["message"]?.string?.contains("did you mean 'ferry.echo'") == true, "\(String(describing: chained.json))")
        let batch = try call("POST", base + "/api/v1/batches", body: #"{"jobs": [{"type": "ferry.noop"}], "on_complete": {"type": "report.buld"}}"#)
        #expect(batch.status == 400 && batch.json?["error"]?["message"]?.string?.contains("no job type 'report.buld'") == true, "\(String(describing: batch.json))")
        #expect(try call("GET", base + "/api/v1/dead?page=0").status == 400)
        #expect(try call("GET", base + "/api/v1/dead?per_page=100000").status == 400)
        let unknown = try call("GET", base + "/api/v1/nothing-here")
        #expect(unknown.status == 404)
        #expect(unknown.json?["error"]?["code"] == .string("not_found"))
        #expect(try call("POST", base + "/api/v1/dead/no-such-id/retry").status == 404)
        #expect(try call("GET", base + "/api/v1/jobs/with%20space%2Fslash").status == 404)
        // A dashboard button for a job that is gone says so instead of pretending it worked.
        let gone = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/ui/dead/no-such-id/retry", headers: [:], body: []))
        #expect(gone.status == 404)

        // Absurd numbers get a 400 naming the field; the server stays up.
        for (body, field) in [
            (#"{"type":"ferry.noop","timeout_s":1e300}"#, "timeout_s"), (#"{"type":"ferry.noop","timeout_s":-1.7e308}"#, "timeout_s"),
            (#"{"type":"ferry.noop","timeout_s":0}"#, "timeout_s"), (#"{"type":"ferry.noop","run_at":1e300}"#, "run_at"),
            (#"{"type":"ferry.noop","run_at":-5}"#, "run_at"), (#"{"type":"ferry.noop","max_attempts":0}"#, "max_attempts"),
            (#"{"type":"ferry.noop","queue":"a:b"}"#, "queue name"),
        ] {
            let reply = try call("POST", base + "/api/v1/jobs", body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.json?["error"]?["message"]?.string?.contains(field) == true, "\(body): \(String(describing: reply.json))")
        }
        #expect(try call("GET", base + "/healthz").status == 200)
        #expect(process.waitForExit(timeout: 0) == nil, "the admin server died")
    }

    @Test func deadJobsArePagedFilteredRetriedAndDeleted() throws {
        try bury(["a"] + Array(repeating: "b", count: 4))
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let firstPage = try call("GET", base + "/api/v1/dead?per_page=2&page=1")
        #expect(firstPage.json?["total"] == .int(5))
        #expect(firstPage.json?["jobs"]?.elements?.count == 2)
        #expect(try call("GET", base + "/api/v1/dead?per_page=2&page=3").json?["jobs"]?.elements?.count == 1)
        let onlyB = try call("GET", base + "/api/v1/dead?type=b")
        #expect(onlyB.json?["total"] == .int(4))
        let byError = try call("GET", base + "/api/v1/dead?error=A%20EXPLODED")
        #expect(byError.json?["total"] == .int(1))
        let idOfA = try #require(byError.json?["jobs"]?.elements?.first?["id"]?.string)

        #expect(try call("POST", base + "/api/v1/dead/\(idOfA)/retry").status == 200)
        #expect(try call("GET", base + "/api/v1/dead").json?["total"] == .int(4))
        let b = try #require(try call("GET", base + "/api/v1/dead").json?["jobs"]?.elements?.first?["id"]?.string)
        #expect(try call("DELETE", base + "/api/v1/dead/\(b)").status == 200)
        #expect(try call("DELETE", base + "/api/v1/dead?type=b").status == 400)
        #expect(try call("POST", base + "/api/v1/dead/retry?type=b").json?["retried"] == .int(3))
        #expect(try call("GET", base + "/api/v1/dead").json?["total"] == .int(0))
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]?.ready == 4)
    }

    @Test func aFinishedJobShowsItsResultOrItsError() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        let done = try dispatcher.enqueue(.init(type: "report.build"))
        let fetcher = Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0)))
        let fetched = try #require(try fetcher.fetch(from: "default", limit: 1, on: redis).first)
        try Settler(keys: keys).settle(fetched, .succeeded(result: Array(#"{"rows":3}"#.utf8), ttl: .seconds(60)), on: redis)
        try bury(["a"])
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let shown = try call("GET", base + "/api/v1/jobs/\(done)")
        #expect(shown.status == 200)
        #expect(shown.json?["state"] == .string("succeeded"))
        #expect(shown.json?["result"] == .object(["rows": .int(3)]))
        #expect(shown.json?["queue"] == .string("default"))
        // A dead job is still in the dead set, where it shows with its error.
        let deadID = try #require(try call("GET", base + "/api/v1/dead").json?["jobs"]?.elements?.first?["id"]?.string)
        let dead = try call("GET", base + "/api/v1/jobs/\(deadID)")
        #expect(dead.json?["state"] == .string("dead"))
        #expect(try call("GET", base + "/api/v1/jobs/nothing-like-it").status == 404)
    }

    @Test func retriesAreCountedApartFromDelayedJobsInStatsAndTheDashboardNavigation() throws {
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        try dispatcher.enqueue(batch: [.init(type: "ferry.noop"), .init(type: "ferry.noop")])
        for fetched in try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 2, on: redis) {
            try Settler(keys: keys).settle(fetched, .retry(JobFailure(type: "E", message: "flaky"), after: .seconds(600)), on: redis)
        }
        try dispatcher.enqueue(.init(type: "ferry.noop", options: .runIn(.seconds(3600))))
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(stats?.scheduled == 3)
        #expect(stats?.retries == 2)

        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        #expect(try call("GET", base + "/api/v1/stats").json?["queues"]?["default"]?["retries"] == .int(2))
        let metrics = try http.execute(FerryHTTPClient.Request(url: base + "/metrics")).text
        #expect(metrics.contains(#"ferry_queue_retries_jobs{queue="default"} 2.0"#), "\(metrics)")
        let page = String(decoding: try http.execute(FerryHTTPClient.Request(url: base + "/queues")).body, as: UTF8.self)
        #expect(page.contains(#"<a href="/retries">Retries<span class="count">2</span></a>"#), "\(page.prefix(3000))")
        #expect(page.contains(#"<a href="/scheduled">Scheduled<span class="count">1</span></a>"#), "\(page.prefix(3000))")
        // A retry that will never succeed is killed: dead at once, from the API and from its button.
        let retries = try #require(try call("GET", base + "/api/v1/retries").json?["jobs"]?.elements?.compactMap { $0["id"]?.string })
        #expect(retries.count == 2)
        let killed = try call("POST", base + "/api/v1/retries/\(retries[0])/kill")
        #expect(killed.status == 200 && killed.json?["status"] == .string("dead"), "\(String(describing: killed.json))")
        #expect(try call("POST", base + "/api/v1/retries/\(retries[0])/kill").status == 404)
        let button = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/ui/scheduled/\(retries[1])/kill", headers: ["Referer": base + "/retries"], body: []))
        #expect(button.status == 303 && button.headers["location"] == "/retries?notice=killed&subject=\(retries[1])", "\(button.headers)")
        let after = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(after?.retries == 0 && after?.dead == 2 && after?.scheduled == 1, "\(String(describing: after))")
        #expect(try QueueAdmin(keys: keys).dead.job(id: retries[1], on: redis)?.error.type == "Killed")
    }

    @Test func scheduledJobsAndRetriesCanRunNowOrBeDeleted() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let later = try #require(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "delay_s": 3600}"#).json?["id"]?.string)
        let other = try #require(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "delay_s": 3600}"#).json?["id"]?.string)
        let listed = try call("GET", base + "/api/v1/scheduled")
        #expect(listed.json?["total"] == .int(2))
        #expect(try call("GET", base + "/api/v1/retries").json?["total"] == .int(0))
        #expect(try call("POST", base + "/api/v1/scheduled/\(later)/run").status == 200)
        #expect(try call("DELETE", base + "/api/v1/scheduled/\(other)").status == 200)
        #expect(try call("POST", base + "/api/v1/retries/\(other)/run").status == 404)
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(stats?.ready == 1)
        #expect(stats?.scheduled == 0)

        let found = try call("GET", base + "/api/v1/jobs/\(later)")
        #expect(found.json?["state"] == .string("ready"))
        #expect(found.json?["job"]?["type"] == .string("ferry.noop"))
        let delayed = try #require(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "delay_s": 60}"#).json?["id"]?.string)
        #expect(try call("GET", base + "/api/v1/jobs/\(delayed)").json?["state"] == .string("scheduled"))
        #expect(try call("GET", base + "/api/v1/jobs/\(other)").status == 404)
        // Imports need PostgreSQL: when it cannot answer (here no DATABASE_URL, or one without the
        // tables), the route says so without the driver's details.
        let imports = try http.execute(FerryHTTPClient.Request(url: base + "/api/v1/imports"))
        #expect(imports.status == 503 && imports.text.contains("PostgreSQL") && !imports.text.contains("ferry:"), "\(imports.status) \(imports.text)")
        // Arguments are shown without their secrets: pre-signed URLs' signatures, passwords, tokens.
        let secretive = try #require(try call("POST", base + "/api/v1/jobs", body: """
            {"type": "ferry.noop", "delay_s": 60, "args": {"source": "https://bucket.example/t.csv?X-Amz-Signature=abc123&part=1",
             "nested": [{"api_key": "k-999"}], "note": "plain"}}
            """).json?["id"]?.string)
        let shownArgs = try call("GET", base + "/api/v1/jobs/\(secretive)").json?["job"]?["args"]
        #expect(shownArgs?["source"] == .string("https://bucket.example/t.csv?X-Amz-Signature=***&part=1"))
        #expect(shownArgs?["nested"]?.elements?.first?["api_key"] == .string("***") && shownArgs?["note"] == .string("plain"), "\(String(describing: shownArgs))")

        let ran = try call("POST", base + "/api/v1/schedules/smoke-heartbeat/run")
        #expect(ran.status == 201)
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["low"]?.ready == 1)
        #expect(try call("POST", base + "/api/v1/schedules/nope/run").status == 404)
    }

    @Test func retryAllWhileWorkersRunLosesNothing() throws {
        let ranKey = "\(namespace):ran"
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        let ids = try dispatcher.enqueue(batch: (0..<300).map { _ in .init(type: "ferry.record", args: .object(["key": .string(ranKey), "ms": .int(2)])) })
        for job in try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 300, on: redis) {
            try Settler(keys: keys).settle(job, .bury(JobFailure(type: "Boom", message: "down")), on: redis)
        }
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let worker = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--concurrency", "4"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace,
        ])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        // Retry everything while the worker is already running (and acknowledging) the first ones.
        let retried = try call("POST", base + "/api/v1/dead/retry?type=ferry.record").json?["retried"]?.int
        #expect(retried == 300)
        #expect(try eventually(timeout: 30) { try redis.command("SCARD", .string(ranKey)).int == ids.count }, "\(worker.output.suffix(1000))")
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(stats?.dead == 0)
        #expect(stats?.ready == 0)
    }

    @Test func bulkActionsOnRetriesAndScheduledJobs() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        for _ in 0..<3 { _ = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "delay_s": 3600}"#) }
        #expect(try call("POST", base + "/api/v1/scheduled/run?type=ferry.noop").json?["enqueued"] == .int(3))
        for _ in 0..<2 { _ = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.noop", "delay_s": 3600}"#) }
        #expect(try call("DELETE", base + "/api/v1/scheduled").status == 400)
        #expect(try call("DELETE", base + "/api/v1/scheduled?confirm=true").json?["deleted"] == .int(2))
        #expect(try call("POST", base + "/api/v1/retries/run").json?["enqueued"] == .int(0))
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(stats?.ready == 3)
        #expect(stats?.scheduled == 0)
    }

    @Test func aTokenGuardsEveryRouteButHealthz() throws {
        let (process, base) = try startAdmin(token: "s3cret-token")
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        #expect(try call("GET", base + "/healthz").status == 200)
        let anonymous = try call("GET", base + "/api/v1/stats")
        #expect(anonymous.status == 401)
        #expect(anonymous.json?["error"]?["code"] == .string("unauthorized"))
        #expect(try call("GET", base + "/api/v1/stats", token: "wrong").status == 401)
        #expect(try call("GET", base + "/metrics").status == 401)
        #expect(try call("GET", base + "/api/v1/stats", token: "s3cret-token").status == 200)
        // The scheme is case-insensitive.
        let lower = try http.execute(FerryHTTPClient.Request(url: base + "/api/v1/stats", headers: ["Authorization": "bearer s3cret-token"]))
        #expect(lower.status == 200)
        // A score someone else wrote as +inf shows as the edge of time, not a 500.
        let job = Job(type: "ferry.noop", queue: "default", maxAttempts: 3)
        try redis.command("SADD", .string(keys.queues), "default")
        try redis.command("ZADD", .string(keys.scheduled("default")), "+inf", .bytes(job.encoded()))
        let scheduled = try call("GET", base + "/api/v1/scheduled", token: "s3cret-token")
        #expect(scheduled.status == 200)
        #expect(scheduled.json?["jobs"]?.elements?.first?["id"] == .string(job.id))
        #expect(try call("GET", base + "/api/v1/jobs/\(job.id)", token: "s3cret-token").status != 500)
        // A heartbeat someone else wrote with absurd times: listed, not a crash.
        try redis.command("HSET", .string(keys.worker("odd")), "host", "h", "pid", "1", "started_at", "1e300",
                          "busy", #"[{"id":"j","type":"t","queue":"default","startedAt":-1e308}]"#)
        try redis.command("ZADD", .string(keys.workers), "1", "odd")
        #expect(try call("GET", base + "/api/v1/workers", token: "s3cret-token").status == 200)
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/", headers: ["Authorization": "Bearer s3cret-token"])).status == 200)
        #expect(process.waitForExit(timeout: 0) == nil)
        #expect(!process.output.contains("s3cret-token"))
    }

    @Test func refusesToServeOffLoopbackWithoutAToken() throws {
        let process = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_ADMIN_ADDR": "0.0.0.0:\(try FreePort.find())", "FERRY_ADMIN_TOKEN": "",
        ])
        #expect(process.waitForExit(timeout: 20) != 0)
        #expect(process.output.contains("refusing to serve the admin API on 0.0.0.0"), "\(process.output)")
    }

    @Test func workersAreListedWithWhatTheyRun() throws {
        let worker = WorkerInfo(id: "host:1:abc", host: "host", pid: 1, queues: ["default"], concurrency: 2, startedAt: 1,
                                busy: [.init(id: "j1", type: "ferry.sleep", queue: "default", startedAt: Date().timeIntervalSince1970 - 3)])
        try WorkerRegistry(keys: keys).beat(worker, ttl: .seconds(30), on: redis)
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let listed = try #require(try call("GET", base + "/api/v1/workers").json?["workers"]?.elements?.first)
        #expect(listed["host"] == .string("host"))
        #expect(listed["busy"]?.elements?.first?["type"] == .string("ferry.sleep"))
        #expect((listed["busy"]?.elements?.first?["running_s"]?.double ?? 0) >= 3)
        let schedules = try call("GET", base + "/api/v1/schedules")
        #expect(schedules.json?["schedules"]?.elements?.contains { $0["name"] == .string("smoke-heartbeat") } == true)
    }

    @Test func batchesAndChainsAreEnqueuedOverHTTP() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let created = try call("POST", base + "/api/v1/batches", body: #"{"jobs": [{"type": "ferry.noop"}, {"type": "ferry.echo", "args": {"n": 1}}], "description": "two", "on_complete": {"type": "ferry.noop"}}"#)
        #expect(created.status == 201, "\(String(describing: created.json))")
        let id = try #require(created.json?["id"]?.string)
        #expect(created.json?["job_ids"]?.elements?.count == 2)
        let progress = try call("GET", base + "/api/v1/batches/\(id)")
        #expect(progress.status == 200)
        #expect(progress.json?["total"] == .int(2) && progress.json?["pending"] == .int(2) && progress.json?["description"] == .string("two"))
        #expect(try call("GET", base + "/api/v1/batches/b-nothing").status == 404)
        #expect(try call("GET", base + "/api/v1/batches").json?["batches"]?.elements?.first?["id"] == .string(id))
        #expect(try call("POST", base + "/api/v1/batches", body: #"{"jobs": []}"#).status == 400)
        #expect(try call("POST", base + "/api/v1/batches", body: #"{"jobs": [{"type": "bad type"}]}"#).status == 400)
        #expect(try call("POST", base + "/api/v1/batches", body: #"{"jobs": [{"type": "ferry.noop", "max_attempts": 0}]}"#).status == 400)

        let chained = try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.echo", "then": {"type": "ferry.noop", "then": {"type": "ferry.noop"}}}"#)
        #expect(chained.status == 201)
        let job = try call("GET", base + "/api/v1/jobs/\(try #require(chained.json?["id"]?.string))")
        #expect(job.status == 200)
        #expect(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.echo", "then": {"args": {}}}"#).status == 400)
        #expect(try call("POST", base + "/api/v1/jobs", body: #"{"type": "ferry.echo", "then": {"type": "x", "then": {"type": 5}}}"#).status == 400)
    }

    @Test func rateLimitersShowTheirBudgetsInTheAPIAndTheMetrics() throws {
        // A limiter with two budgets: "opus" used up with one job parked, "haiku" untouched.
        let limiter = RateLimiter(type: "claude.message", limit: try RateLimit(limit: 1, period: .seconds(60), burst: 1, key: "model"), keys: keys)
        try limiter.register(on: redis)
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        try dispatcher.enqueue(batch: ["opus", "opus", "haiku"].map { .init(type: "claude.message", args: .object(["model": .string($0)])) })
        let fetched = try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 2, on: redis)
        for job in fetched { _ = try limiter.acquire(job, job: try job.job.get(), on: redis) }

        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let limits = try call("GET", base + "/api/v1/rate-limits")
        #expect(limits.status == 200)
        let first = try #require(limits.json?["rate_limits"]?.elements?.first, "\(String(describing: limits.json))")
        #expect(first["type"] == .string("claude.message"))
        #expect(first["limit"]?["limit"] == .int(1) && first["limit"]?["period_ms"] == .int(60_000) && first["limit"]?["key"] == .string("model"))
        #expect(first["waiting"] == .int(1))
        let opus = first["budgets"]?.elements?.first { $0["key"] == .string("opus") }
        #expect(opus?["available"] == .int(0) && opus?["waiting"] == .int(1), "\(String(describing: first))")
        let metrics = try http.execute(FerryHTTPClient.Request(url: base + "/metrics")).text
        #expect(metrics.contains(#"ferry_rate_limit_waiting_jobs{type="claude.message",key="opus"} 1.0"#), "\(metrics)")
        // And on the dashboard, with a batch beside it.
        let (batch, _) = try Batches(dispatcher: dispatcher).enqueue(BatchRequest(jobs: [.init(type: "ferry.noop")], description: "<b>nightly</b>"))
        let page = try http.execute(FerryHTTPClient.Request(url: base + "/limits")).text + http.execute(FerryHTTPClient.Request(url: base + "/batches")).text
        #expect(page.contains("<td>claude.message</td><td>1 per 60.0 seconds, burst 1, one budget per model</td><td>opus</td><td class=\"n\">0</td><td class=\"n\">1</td>"), "\(page)")
        #expect(page.contains("<td><a href=\"/batches/\(batch)\">\(batch)</a></td><td>&lt;b&gt;nightly&lt;/b&gt;</td><td>default</td><td class=\"n\">0 of 1</td>"), "\(page)")
        // A batch's own page.
        let batchPage = try http.execute(FerryHTTPClient.Request(url: base + "/batches/\(batch)")).text
        #expect(batchPage.contains("<h1>Batch \(batch)</h1>") && batchPage.contains("<dt>description</dt><dd>&lt;b&gt;nightly&lt;/b&gt;</dd>") && batchPage.contains("<dt>done</dt><dd>0 of 1</dd>"), "\(batchPage)")
        #expect(try http.execute(FerryHTTPClient.Request(url: base + "/batches/no-such-batch")).status == 404)
    }
}

/// `ops/openapi.yaml` stays in line with the server: every documented operation is routed.
@Suite struct OpenAPIDocumentTests {
    @Test func everyDocumentedOperationIsServed() throws {
        let text = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/ops/openapi.yaml", encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        #expect(paths.count >= 20)
        let namespace = "otest-\(UUID().uuidString.prefix(8))"
        let port = try FreePort.find()
        let process = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)",
            "FERRY_ADMIN_TOKEN": "docs-token",  // with a token, the login routes are served too
        ])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let http = FerryHTTPClient()
        let base = "http://127.0.0.1:\(port)"
        _ = eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: base + "/healthz")))?.status == 200 }
        var checked = 0
        for (path, value) in paths {
            let operations = try #require(value as? [String: Any])
            for method in operations.keys where ["get", "post", "delete"].contains(method) {
                let url = base + path.replacingOccurrences(of: "{queue}", with: "docs").replacingOccurrences(of: "{id}", with: "no-such-id").replacingOccurrences(of: "{name}", with: "no-such-entry")
                let body: [UInt8]? = method == "post" && path == "/api/v1/jobs" ? Array(#"{"type": "ferry.noop"}"#.utf8) : nil
                let headers: FerryHTTPClient.Headers = ["Authorization": "Bearer docs-token", "Content-Type": path.hasPrefix("/api/") ? "application/json" : "application/x-www-form-urlencoded"]
                let response = try http.execute(FerryHTTPClient.Request(method: method.uppercased(), url: url, headers: headers, body: body))
                let routed = response.status != 404 || response.text.contains("no ")
                #expect(routed, "\(method.uppercased()) \(path) is documented but not served (\(response.status) \(response.text))")
                checked += 1
            }
        }
        #expect(checked == 82)
    }
}

/// Schemathesis (installed by ops/setup) fuzzes the running admin endpoint from
/// `ops/openapi.yaml`: examples, coverage, fuzzing and stateful phases (following the document's
/// links), every check. No 5xx, no crash, every response as documented.
@Suite struct AdminFuzzTests {
    @Test func schemathesisFindsNothing() throws {
        let namespace = "fuzz-\(UUID().uuidString.prefix(8))"
        let port = try FreePort.find()
        let token = "fuzz-\(UUID().uuidString)"
        // A migrated schema of its own, so that the PostgreSQL-backed routes (imports) answer too.
        let schema = "fuzz_\(UUID().uuidString.prefix(8).lowercased())"
        let postgres = try PostgresConnection(url: TestEnvironment.postgresURL)
        try postgres.query("CREATE SCHEMA \(schema)")
        defer { _ = try? postgres.query("DROP SCHEMA \(schema) CASCADE") }
        let databaseURL = TestEnvironment.postgresURL + "?search_path=\(schema)"
        let migrate = try ChildProcess([TestEnvironment.ferryBinary, "migrate"], environment: ["DATABASE_URL": databaseURL])
        #expect(migrate.waitForExit(timeout: 60) == 0, "\(migrate.output.suffix(2000))")
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)",
            "FERRY_ADMIN_TOKEN": token, "DATABASE_URL": databaseURL, "FERRY_ANONYMIZE_HASH_KEY": "fuzz-hash-key-0123456789",
        ])
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let base = "http://127.0.0.1:\(port)"
        #expect(eventually(timeout: 20) { (try? FerryHTTPClient().execute(FerryHTTPClient.Request(url: base + "/healthz")))?.status == 200 })

        // The anonymizer's spot check, with the configuration of jobs/anonymize.batch.yml.
        let http = FerryHTTPClient()
        let headers: FerryHTTPClient.Headers = ["Authorization": "Bearer \(token)", "Content-Type": "application/json"]
        let spot = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/api/v1/anonymize", headers: headers,
                                               body: Array(#"{"text": "Jürgen Weber, Tel. 030 12345678, Kundennummer KD-1234567"}"#.utf8)))
        #expect(spot.status == 200 && spot.text.contains(#""text":"<PERSON>, Tel. 030 12******, Kundennummer <CUSTOMER_ID>""#), "\(spot.status) \(spot.text)")
        let found = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/api/v1/anonymize", headers: headers, body: Array(#"{"text": "Mail: a@example.com", "analyze": true}"#.utf8)))
        #expect(found.text.contains(#""entity_type":"EMAIL_ADDRESS","recognizer":"EmailRecognizer","score":1,"start":6}"#), "\(found.text)")
        let malformed = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/api/v1/anonymize", headers: headers, body: Array(#"{"txt": 1}"#.utf8)))
        #expect(malformed.status == 400, "\(malformed.text)")
        let fuzzer = try ChildProcess([
            "/usr/bin/env", "schemathesis", "--config-file", FileManager.default.currentDirectoryPath + "/ops/schemathesis.toml",
            "run", FileManager.default.currentDirectoryPath + "/ops/openapi.yaml",
            "--url", base, "-H", "Authorization: Bearer \(token)", "--checks", "all",
            // Hummingbird answers 404, not 405, for a method a path does not serve.
            "--exclude-checks", "unsupported_method",
            // A fixed number of cases per operation and a fixed seed: the same cases on every machine
            // (a time budget would make what is tried depend on the machine's speed).
            "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "80", "--seed", "1",
        ], environment: ["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"])
        let status = fuzzer.waitForExit(timeout: 240)
        #expect(status == 0, "schemathesis (is it installed? run ops/setup):\n\(fuzzer.output.suffix(6000))")
        #expect(admin.waitForExit(timeout: 0) == nil, "the admin server died under the fuzzer")
        #expect(!fuzzer.output.contains("Server error"), "\(fuzzer.output.suffix(3000))")
    }
}

/// The dashboard as plain HTML (no script needed); the browser test is still to come.
@Suite struct DashboardTests {
    @Test func aDeadJobShowsUpEscapedAndItsRetryButtonPutsItBack() throws {
        let namespace = "dtest-\(UUID().uuidString.prefix(8))"
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        let id = try dispatcher.enqueue(.init(type: "report.build"))
        let fetched = try #require(try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 1, on: redis).first)
        try Settler(keys: keys).settle(fetched, .bury(JobFailure(type: "Boom", message: "<script>alert(1)</script> broke")), on: redis)

        let port = try FreePort.find()
        let process = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)",
        ])
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let http = FerryHTTPClient()
        let base = "http://127.0.0.1:\(port)"
        _ = eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: base + "/healthz")))?.status == 200 }

        let page = try http.execute(FerryHTTPClient.Request(url: base + "/dead"))
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.text.contains(id))
        #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; broke"))
        #expect(!page.text.contains("<script>"))
        #expect(page.text.contains("action=\"/ui/dead/\(id)/retry\""))
        // Records kept outside Redis have their sections; here PostgreSQL is missing or unmigrated.
        let records = try http.execute(FerryHTTPClient.Request(url: base + "/records")).text
        #expect(records.contains("<h2 id=\"imports\">Imports</h2>") && records.contains("<h2 id=\"claude-usage\">Claude usage</h2>"))

        let forged = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/ui/dead/\(id)/retry", headers: ["Origin": "https://evil.example"]))
        #expect(forged.status == 403)
        let retried = try http.execute(FerryHTTPClient.Request(method: "POST", url: base + "/ui/dead/\(id)/retry", headers: ["Origin": base]))
        #expect(retried.status == 303)
        #expect(retried.headers["location"] == "/?notice=retried&subject=\(id)")
        let stats = try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]
        #expect(stats?.dead == 0)
        #expect(stats?.ready == 1)
        #expect(!(try http.execute(FerryHTTPClient.Request(url: base + "/dead")).text.contains("class=\"dead-job\"")))
    }
}

/// Headless Chromium (Debian's `chromium`, driven over the DevTools protocol by
/// `Tests/browser/dashboard_retry.py`) against a running admin server and worker.
@Suite struct DashboardBrowserTests {
    @Test func aPageOnAnotherOriginCanNeitherActNorRead() throws {
        let namespace = "xtest-\(UUID().uuidString.prefix(8))"
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let port = try FreePort.find()
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)",
        ])
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        _ = eventually(timeout: 20) { (try? FerryHTTPClient().execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/healthz")))?.status == 200 }
        try QueueAdmin(keys: keys).paused.resume("default", on: redis)
        let browser = try ChildProcess([
            "/usr/bin/env", "python3", FileManager.default.currentDirectoryPath + "/Tests/browser/cross_site.py",
            "--admin", "http://127.0.0.1:\(port)",
        ])
        #expect(browser.waitForExit(timeout: 90) == 0, "\(browser.output)")
        let line = try #require(browser.output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(browser.output)")
        let seen = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        // The page sent everything it could...
        #expect(seen["enqueue"] == .string("sent") && seen["pause"] == .string("sent") && seen["form"] == .string("submitted"), "\(line)")
        // ...read nothing, framed nothing...
        #expect(seen["read"] == .string("blocked"), "\(line)")
        #expect(seen["framed"] == .string("opaque"), "\(line)")
        // ...and nothing happened.
        #expect(try redis.command("LLEN", .string(keys.ready("default"))).int == 0)
        #expect(try redis.command("EXISTS", .string(keys.paused("default"))).int == 0)
    }

    @Test func anAdminWalksThePagesFiltersAndRetriesASelection() throws {
        let namespace = "wtest-\(UUID().uuidString.prefix(8))"
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let ranKey = "\(namespace):ran"
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        // Seven dead jobs: five ferry.record (the selection), two of a type no worker knows.
        var selected: [String] = []
        for index in 0..<7 {
            let record = index < 5
            let id = try dispatcher.enqueue(.init(type: record ? "ferry.record" : "report.build", args: .object(["key": .string(ranKey), "n": .int(Int64(index))])))
            let fetched = try #require(try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 1, on: redis).first)
            try Settler(keys: keys).settle(fetched, .bury(JobFailure(type: record ? "SMTPError" : "Timeout", message: record ? "relay was down" : "took too long")), on: redis)
            if record { selected.append(id) }
        }
        let port = try FreePort.find()
        let environment = ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)"]
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: environment)
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let worker = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--concurrency", "2", "--heartbeat", "1"], environment: environment)
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        // Some successes for the health table and the chart, counted with the next heartbeat.
        try dispatcher.enqueue(batch: (0..<40).map { _ in .init(type: "ferry.record", args: .object(["key": .string("\(namespace):other")])) })
        #expect(try eventually(timeout: 20) { try TypeHealth(keys: keys).summary(on: redis).lastHour["ferry.record"]?.succeeded == 40 })
        let http = FerryHTTPClient()
        _ = eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/healthz")))?.status == 200 }

        // A queue with a job waiting for next week, to clear; a batch to open.
        try dispatcher.enqueue(.init(type: "ferry.noop", options: EnqueueOptions(queue: "walkclear", runAt: Date().addingTimeInterval(7 * 86_400))))
        let (batch, _) = try Batches(dispatcher: dispatcher).enqueue(BatchRequest(jobs: [.init(type: "ferry.noop")], description: "walk"))
        let shots = ProcessInfo.processInfo.environment["FERRY_SCREENSHOTS_DIR"] ?? NSTemporaryDirectory() + "ferry-shots-\(namespace)"
        let browser = try ChildProcess([
            "/usr/bin/env", "python3", FileManager.default.currentDirectoryPath + "/Tests/browser/dashboard_walk.py",
            "--url", "http://127.0.0.1:\(port)", "--type", "ferry.record", "--clear", "walkclear", "--shots", shots,
        ])
        #expect(browser.waitForExit(timeout: 180) == 0, "\(browser.output)")
        let line = try #require(browser.output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(browser.output)")
        let seen = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        // Every section's page, marked in the navigation, times in the viewer's zone.
        let pages = try #require(seen["pages"]?.object)
        #expect(Set(pages.keys) == ["overview", "queues", "busy", "retries", "scheduled", "dead", "schedules", "batches", "limits", "records"], "\(line)")
        for (name, page) in pages {
            #expect(page["current"]?.string == (name == "overview" ? "/" : "/\(name)"), "\(name): \(page)")
            #expect(page["times_local"] == .bool(true), "\(name): \(page)")
        }
        #expect(pages["overview"]?["h1"] == .string("Overview") && pages["limits"]?["h1"] == .string("Rate limits"))
        // A dead job's page, with its arguments, actions and the command that enqueues a copy.
        #expect(seen["job"]?["state"] == .string("dead") && seen["job"]?["has_arguments"] == .bool(true) && seen["job"]?["retry_button"] == .bool(true), "\(line)")
        #expect(seen["job"]?["failed_attempts"] == .int(1), "\(line)")
        #expect(seen["job"]?["command"]?.string?.hasPrefix("ferry enqueue 'report.build' --args '{\"key\":") == true, "\(line)")  // the newest dead job
        // The filter selects five of seven; the confirmation says so; retrying empties the selection.
        #expect(seen["dead_rows_before"] == .int(7) && seen["filtered_rows"] == .int(5), "\(line)")
        #expect(seen["confirmation"]?.string?.contains("Retry 5 dead jobs with type ferry.record?") == true, "\(line)")
        #expect(seen["after_url"] == .string("/dead?type=ferry.record&notice=bulk-retried&count=5") && seen["rows_after"] == .int(0), "\(line)")
        #expect(seen["notice"] == .string("5 dead jobs retried."), "\(line)")
        // Search by id; a retry from the job's own page stays there and says what it did.
        #expect(seen["found_url"]?.string?.hasPrefix("/jobs/") == true && seen["found_url"] == seen["job"]?["url"], "\(line)")
        #expect(seen["job_retry"]?["path"]?.string?.hasPrefix("/jobs/") == true, "\(line)")
        #expect(seen["job_retry"]?["notice"]?.string?.hasSuffix("was retried: it is back in its queue, its attempts start over.") == true, "\(line)")
        // Run now on a schedule, clear a queue (after a confirmation that counts), open a batch.
        #expect(seen["schedule_run"]?["path"] == .string("/schedules") && seen["schedule_run"]?["notice"]?.string?.hasSuffix("was enqueued now, as the schedule's next tick would.") == true, "\(line)")
        #expect(seen["clear_confirmation"]?.string?.hasPrefix("Delete the 1 waiting job of queue walkclear") == true, "\(line)")
        #expect(seen["cleared"]?["path"] == .string("/queues") && seen["cleared"]?["notice"] == .string("Queue walkclear was cleared: 1 waiting job deleted."), "\(line)")
        #expect(try QueueAdmin(keys: keys).queues.stats(on: redis).queues["walkclear"]?.scheduled == 0)
        #expect(seen["batch_h1"] == .string("Batch \(batch)"), "\(line)")
        // Keyboard, phone, dark mode, live refresh and its toggle, scripts off.
        #expect(seen["first_tab"] == .string("Overview"), "\(line)")
        #expect(seen["phone_overflow"] == .bool(false), "\(line)")
        #expect(seen["dark_background"] == .string("rgb(20, 23, 28)"), "\(line)")
        #expect(seen["live_refresh"] == .string("5") && seen["stopped_refresh"] == .bool(true), "\(line)")
        #expect(seen["no_script_h1"] == .string("Dead"), "\(line)")
        for name in ["overview", "dead", "dead-filtered", "confirm", "job", "overview-phone", "overview-dark"] {
            #expect(FileManager.default.fileExists(atPath: "\(shots)/\(name).png"), "\(name).png")
        }
        // The retried selection ran; the two others are still dead.
        #expect(try eventually(timeout: 20) { try selected.allSatisfy { try redis.command("SISMEMBER", .string(ranKey), .string($0)).int == 1 } },
                "\(worker.output.suffix(1000))")
        // The job retried from its page has no handler here: it goes dead again.
        #expect(try eventually(timeout: 20) { try QueueAdmin(keys: keys).queues.stats(on: redis).queues["default"]?.dead == 2 })
    }

    @Test func aPersonSeesTheDeadJobPressesRetryAndTheJobRuns() throws {
        let namespace = "btest-\(UUID().uuidString.prefix(8))"
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let ranKey = "\(namespace):ran"
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        // A job that failed for good: it is in the dead set with its reason.
        let id = try dispatcher.enqueue(.init(type: "ferry.record", args: .object(["key": .string(ranKey)])))
        let fetched = try #require(try Fetcher(keys: keys, consumer: Consumer(worker: "w", lane: .slot(0))).fetch(from: "default", limit: 1, on: redis).first)
        try Settler(keys: keys).settle(fetched, .bury(JobFailure(type: "SMTPError", message: "relay was down")), on: redis)

        let port = try FreePort.find()
        let environment = ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)"]
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: environment)
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let worker = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--concurrency", "2"], environment: environment)
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        let http = FerryHTTPClient()
        _ = eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/healthz")))?.status == 200 }

        let screenshot = NSTemporaryDirectory() + "ferry-dashboard-\(namespace).png"
        let browser = try ChildProcess([
            "/usr/bin/env", "python3", FileManager.default.currentDirectoryPath + "/Tests/browser/dashboard_retry.py",
            "--url", "http://127.0.0.1:\(port)/dead", "--job", id, "--screenshot", screenshot,
        ])
        #expect(browser.waitForExit(timeout: 90) == 0, "\(browser.output)")
        let line = try #require(browser.output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(browser.output)")
        let seen = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        #expect(seen["title"] == .string("Dead · Ferry"))
        #expect(seen["job_listed_before"] == .bool(true), "\(line)")
        #expect(seen["dead_rows_before"] == .int(1))
        #expect(seen["button_found"] == .bool(true))
        #expect(seen["job_listed_after"] == .bool(false), "\(line)")
        #expect(seen["notice"] == .string("Job \(id) was retried: it is back in its queue, its attempts start over."), "\(line)")
        #expect(seen["dead_rows_after"] == .int(0))
        #expect(FileManager.default.fileExists(atPath: screenshot))
        // Back in its queue, the job ran.
        #expect(try eventually(timeout: 15) { try redis.command("SISMEMBER", .string(ranKey), .string(id)).int == 1 },
                "\(worker.output.suffix(1000))\n\(String(describing: try? QueueAdmin(keys: keys).queues.stats(on: redis)))")
    }
}
