@testable import FerryJobs
import FerryHTTP
import FerryWorker
import FerryPostgres
import FerryProcess
import FerryQueue
import FerryRedis
import FerryTestSupport
import Foundation
import Testing

/// `trades.import` against real PostgreSQL: every shipped layout, broken rows, the same file twice,
/// paths out of the root, and a worker killed mid-file.
@Suite(.serialized) struct TradesImportTests {
    let fixture: DatabaseFixture
    let root: String

    init() throws {
        fixture = try DatabaseFixture()
        root = NSTemporaryDirectory() + "ferry-imports-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try fixture.db.query("INSERT INTO users (id, handle) VALUES (1, 'ada'), (2, 'bob')")
    }

    var profilesDirectory: String { FileManager.default.currentDirectoryPath + "/jobs/trades.import" }

    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(root)/\(name)"))
        return name
    }

    func write(_ name: String, bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(root)/\(name)"))
        return name
    }

    func run(_ source: String, user: Int64 = 1, profile: String? = nil, job: String = UUID().uuidString, maxRejected: Double = 0.5) throws -> TradesImport.Summary {
        try TradesImport.run(
            path: "\(root)/\(source)", source: source, userID: user, profileName: profile, profilesDirectory: profilesDirectory, jobID: job,
            maxRejectedShare: maxRejected, on: fixture.db
        )
    }

    func trades(_ user: Int64 = 1) throws -> [PostgresRow] {
        try fixture.db.query("""
            SELECT symbol, side, quantity::text AS quantity, entry_price::text AS entry, exit_price::text AS exit, pnl::text AS pnl,
                   fees::text AS fees, currency, to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS opened,
                   to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS closed, trade_key
            FROM trades WHERE user_id = $1 ORDER BY opened_at, id
            """, [user]).rows
    }

    func errors(_ importID: Int64) throws -> [(line: Int, column: String?, reason: String)] {
        try fixture.db.query("SELECT line::int, column_name, reason FROM import_errors WHERE import_id = $1 ORDER BY line", [importID]).rows.map {
            (try $0.decode("line", as: Int.self), try $0.decode("column_name", as: String?.self), try $0.decode("reason", as: String.self))
        }
    }

    @Test func everyShippedLayoutIsDetectedAndRead() throws {
        // Ferry's own layout.
        var summary = try run(write("ferry.csv", """
            trade_id,symbol,side,quantity,entry_price,exit_price,opened_at,closed_at,pnl,fees,currency
            T1,AAPL,buy,10,189.5,191.25,2026-11-02 14:30:00,2026-11-02 15:00:00,17.5,1.00,USD
            T2,MSFT,short,5,410,400.125,2026-11-03 14:30:00,,50.625,,USD
            """))
        #expect(summary.profile == "ferry" && summary.accepted == 2 && summary.rejected == 0)
        var rows = try trades()
        #expect(try rows[0].decode("entry", as: String.self) == "189.5" && rows[0].decode("closed", as: String?.self) == "2026-11-02 15:00:00")
        #expect(try rows[1].decode("side", as: String.self) == "sell" && rows[1].decode("exit", as: String.self) == "400.125")

        // Interactive Brokers: New York times (EST in November: UTC-5), sells as negative quantities.
        summary = try run(write("ib.csv", """
            "ClientAccountID","CurrencyPrimary","Symbol","DateTime","TradeID","Buy/Sell","Quantity","TradePrice","IBCommission","FifoPnlRealized"
            "U123","USD","NVDA","20261104;093012","9001","BUY","20","140.55","-1.0","0"
            "U123","USD","NVDA","20261105;154501","9002","SELL","-20","145.1","-1.02","89.98"
            """), user: 2)
        #expect(summary.profile == "interactive-brokers" && summary.accepted == 2, "\(summary)")
        rows = try trades(2)
        #expect(try rows[0].decode("opened", as: String.self) == "2026-11-04 14:30:12")
        #expect(try rows[1].decode("side", as: String.self) == "sell" && rows[1].decode("quantity", as: String.self) == "20")
        #expect(try rows[1].decode("fees", as: String.self) == "-1.02" && rows[1].decode("trade_key", as: String.self) == "id:interactive-brokers:9002")

        // MetaTrader history.
        try fixture.db.query("INSERT INTO users (id, handle) VALUES (3, 'cy'), (4, 'di')")
        summary = try run(write("mt4.csv", """
            Ticket,Open Time,Type,Size,Item,Open Price,Close Time,Close Price,Commission,Swap,Profit
            55501,2026.10.01 08:00:00,buy,0.10,eurusd,1.08250,2026.10.01 12:00:00,1.08400,-0.70,0.00,15.00
            55502,2026.10.02 09:30:00,sell,1.00,xauusd,2650.10,2026.10.02 10:00:00,2640.00,-7.00,0.00,1010.00
            """), user: 3)
        #expect(summary.profile == "metatrader" && summary.accepted == 2, "\(summary)")
        #expect(try trades(3)[1].decode("pnl", as: String.self) == "1010")

        // A German broker: semicolons, decimal commas, thousands dots, Berlin time (CET: UTC+1).
        summary = try run(write("de.csv", """
            Auftragsnummer;Ausführungszeit;Wertpapier;ISIN;Richtung;Stück;Kurs;Gebühren;Währung
            A-1;03.11.2026 09:15:00;SAP SE;DE0007164600;Kauf;1.000;234,50;9,90;EUR
            A-2;04.11.2026 17:35:10;SAP SE;DE0007164600;Verkauf;500;1.240,05;9,90;EUR
            """), user: 4)
        #expect(summary.profile == "german-broker" && summary.accepted == 2, "\(summary)")
        rows = try trades(4)
        #expect(try rows[0].decode("quantity", as: String.self) == "1000" && rows[0].decode("opened", as: String.self) == "2026-11-03 08:15:00")
        #expect(try rows[1].decode("entry", as: String.self) == "1240.05" && rows[1].decode("side", as: String.self) == "sell")
    }

    @Test func brokenRowsAreRecordedWithTheirLineAndTheRestIsImported() throws {
        var text = Array("""
            symbol,side,quantity,entry_price,exit_price,opened_at,closed_at
            AAPL,buy,10,190,191,2026-11-02 14:30:00,2026-11-02 15:00:00
            AAPL,buy,10,190
            "AAPL,buy,10,190,191,2026-11-02 14:30:00,
            AAPL,buy,10,190,191,2026-02-30 14:30:00,
            AAPL,hold,10,190,191,2026-11-02 14:30:00,
            AAPL,buy,0,190,191,2026-11-02 14:30:00,
            AAPL,buy,10,-190,191,2026-11-02 14:30:00,
            AAPL,buy,10,190,191,2026-11-02 14:30:00,2026-11-01 14:30:00
            AAPL,buy,ten,190,191,2026-11-02 14:30:00,
            MSFT,sell,1,400,,2026-11-03 10:00:00,

            """.utf8)
        text += Array("AAPL".utf8) + [0xFF] + Array(",buy,1,1,1,2026-11-02 14:30:00,\n".utf8)
        text += Array("GOOG,buy,2,170,,2026-11-04 10:00:00,\n".utf8)
        let summary = try run(write("broken.csv", bytes: text), maxRejected: 0.9)
        #expect(summary.accepted == 3 && summary.rejected == 9, "\(summary)")
        let found = try errors(summary.importID)
        #expect(found.map(\.line) == [3, 4, 5, 6, 7, 8, 9, 10, 12], "\(found)")
        #expect(found[0].reason.contains("4 columns where the header has 7"))
        #expect(found[1].reason.contains("quote"))
        #expect(found[2].column == "opened_at" && found[2].reason.contains("not a valid date"))
        #expect(found[3].column == "side" && found[3].reason.contains("unknown side"))
        #expect(found[4].reason.contains("quantity must be more than 0"))
        #expect(found[5].reason.contains("entry_price must not be negative"))
        #expect(found[6].reason.contains("closes") && found[6].reason.contains("before it opens"))
        #expect(found[7].reason.contains("quantity is not a number"))
        #expect(found[8].reason.contains("not valid UTF-8"))

        // From the terminal: the import with its counts and its refused rows.
        let environment = ["DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)"]
        let shown = try ChildProcess([TestEnvironment.ferryBinary, "imports", String(summary.importID)], environment: environment)
        #expect(shown.waitForExit(timeout: 30) == 0, "\(shown.output)")
        #expect(shown.output.contains(#""accepted" : 3"#) && shown.output.contains(#""rejected" : 9"#) && shown.output.contains(#""status" : "succeeded""#), "\(shown.output)")
        #expect(shown.output.contains(#""line" : 12"#) && shown.output.contains("not valid UTF-8"), "\(shown.output)")
        let listed = try ChildProcess([TestEnvironment.ferryBinary, "imports"], environment: environment)
        #expect(listed.waitForExit(timeout: 30) == 0 && listed.output.contains(#""source" : "broken.csv""#), "\(listed.output)")
    }

    @Test func aBOMCRLFAndQuotedNewlinesAreRead() throws {
        let text = "\u{FEFF}symbol,side,quantity,entry_price,opened_at,note\r\n"
            + "AAPL,buy,1,190,2026-11-02 14:30:00,\"a, \"\"quoted\"\"\r\nnote\"\r\n"
            + "MSFT,sell,2,400,2026-11-02 14:31:00,plain\r\n"
            + "TSLA,buy,3,250,2026-11-02 14:32:00,\"last, no line end\""
        let summary = try run(write("crlf.csv", text))
        let found = try errors(summary.importID)
        #expect(summary.accepted == 3 && summary.rejected == 0, "\(summary) \(found)")
        #expect(try trades().map { try $0.decode("symbol", as: String.self) } == ["AAPL", "MSFT", "TSLA"])
    }

    @Test func theSameFileTwiceAddsNothing() throws {
        // No broker ids: two identical rows are two trades (occurrence numbers), once.
        let source = try write("twice.csv", """
            symbol,side,quantity,entry_price,opened_at
            AAPL,buy,1,190,2026-11-02 14:30:00
            AAPL,buy,1,190,2026-11-02 14:30:00
            MSFT,buy,1,400,2026-11-02 14:31:00
            """)
        let first = try run(source)
        let second = try run(source)
        #expect(first.accepted == 3 && first.duplicates == 0)
        #expect(second.accepted == 0 && second.duplicates == 3, "\(second)")
        #expect(try trades().count == 3)
        // Another user imports the same file: their own trades.
        #expect(try run(source, user: 2).accepted == 3)
    }

    @Test func pathsOutOfTheRootEmptyFilesAndUnknownLayoutsAreRefused() throws {
        try FileManager.default.createSymbolicLink(atPath: "\(root)/escape.csv", withDestinationPath: "/etc/hostname")
        for source in ["../secrets.csv", "/etc/passwd", "a/../../x.csv", "escape.csv", "file:///etc/passwd", "missing.csv"] {
            #expect(throws: PermanentJobError.self, "\(source)") { try TradesImport.resolve(source, root: root) }
        }
        #expect(throws: PermanentJobError.self) { try run(write("empty.csv", "")) }
        let headerOnly = try run(write("header.csv", "symbol,side,quantity,entry_price,opened_at\n"))
        #expect(headerOnly.accepted == 0 && headerOnly.rejected == 0)
        do {
            _ = try run(write("unknown.csv", "Date,Ticker,Shares\n2026-11-02,AAPL,1\n"))
            Issue.record("an unknown layout was imported")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("columns found: 'Date', 'Ticker', 'Shares'") && error.message.contains("profiles tried: bitvavo, coinbase, degiro, ferry, freetrade, german-broker, interactive-brokers, kraken, kucoin, metatrader, revolut, schwab, trading212"), "\(error)")
        }
        // Mostly garbage: stopped, saying why.
        do {
            _ = try run(write("garbage.csv", "symbol,side,quantity,entry_price,opened_at\n" + String(repeating: "x,y,z,w,v\n", count: 30)))
            Issue.record("a file of refused rows was imported")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("30 of 30 rows refused, over the 50% limit"), "\(error)")
        }
    }

    /// Puts `text` on the local HTTP server; returns its URL.
    func upload(_ name: String, _ text: String) throws -> String {
        let url = "\(TestEnvironment.httpURL)/files/\(name)"
        let response = try FerryHTTPClient().execute(FerryHTTPClient.Request(method: "PUT", url: url, text: text))
        #expect(response.status == 201)
        return url
    }

    static func rows(_ count: Int, from first: Int = 0) -> String {
        (first..<(first + count)).map { "S\($0 % 50),\($0 % 2 == 0 ? "buy" : "sell"),\(1 + $0 % 7),\(100 + $0 % 13).5,2026-10-\(10 + $0 % 20) 09:00:00\n" }.joined()
    }

    struct SimulatedCrash: Error {}

    @Test(arguments: ["", "?ranges=ignore"])
    func aDownloadIsStreamedAndAnInterruptedOneResumesWhereItStopped(query: String) throws {
        let text = "symbol,side,quantity,entry_price,opened_at\r\n" + Self.rows(25_000).replacingOccurrences(of: "\n", with: "\r\n")
        let url = try upload("resumable-\(UUID().uuidString.prefix(6)).csv", text) + query
        let client = FerryHTTPClient()
        let job = UUID().uuidString
        // The first run dies after its first chunk (a worker killed), the second resumes from the checkpoint.
        var chunks = 0
        #expect(throws: SimulatedCrash.self) {
            _ = try TradesImport.run(url: url, client: client, userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: job, on: fixture.db) { done, total, _ in
                chunks += 1
                #expect(total == Int64(text.utf8.count) && done > 0 && done < total!)
                throw SimulatedCrash()
            }
        }
        #expect(try fixture.int("SELECT count(*)::int FROM trades WHERE user_id = 1") == TradesImport.chunkRows)
        let summary = try TradesImport.run(url: url, client: client, userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: job, on: fixture.db)
        #expect(summary.accepted == 25_000 && summary.duplicates == 0 && summary.rejected == 0 && summary.bytes == Int64(text.utf8.count), "\(summary)")
        // The same rows from a file: the same keys, so nothing new.
        let again = try run(write("same.csv", text))
        #expect(again.accepted == 0 && again.duplicates == 25_000)
        #expect(try fixture.int("SELECT count(DISTINCT trade_key)::int FROM trades WHERE user_id = 1") == 25_000)
    }

    @Test func aDroppedConnectionIsRetriedAndResumes() throws {
        let text = "symbol,side,quantity,entry_price,opened_at\n" + Self.rows(30_000)
        let url = try upload("dropped-\(UUID().uuidString.prefix(6)).csv", text)
        let job = UUID().uuidString
        // The connection breaks after 700,000 bytes (past the first 10,000-row chunk, before the end).
        do {
            _ = try TradesImport.run(url: url + "?drop_after=700000", client: FerryHTTPClient(), userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: job, on: fixture.db)
            Issue.record("a broken download was imported")
        } catch let error as ImportSourceError {
            #expect("\(error)".contains("unavailable"), "\(error)")
        }
        let committed = try fixture.int("SELECT count(*)::int FROM trades WHERE user_id = 1")
        #expect(committed > 0 && committed < 30_000)
        let summary = try TradesImport.run(url: url, client: FerryHTTPClient(), userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: job, on: fixture.db)
        #expect(summary.accepted == 30_000 && summary.duplicates == 0, "\(summary)")
        #expect(try fixture.int("SELECT count(*)::int FROM trades WHERE user_id = 1") == 30_000)
    }

    @Test func unreachableURLsAreRetriedAndMissingOnesGoDead() throws {
        func attempt(_ url: String) throws {
            _ = try TradesImport.run(url: url, client: FerryHTTPClient(), userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: UUID().uuidString, on: fixture.db)
        }
        // Nothing listens on port 1: retried later (not a PermanentJobError).
        #expect(throws: ImportSourceError.self) { try attempt("http://127.0.0.1:1/trades.csv") }
        #expect(throws: ImportSourceError.self) { try attempt("\(TestEnvironment.httpURL)/status/503") }
        // A 404 or 403 will not change: dead, with the status, and never the URL's signature.
        do {
            try attempt("\(TestEnvironment.httpURL)/files/nowhere.csv?X-Amz-Signature=s3cr3t")
            Issue.record("a missing file was imported")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("HTTP 404") && error.message.contains("X-Amz-Signature=***") && !error.message.contains("s3cr3t"), "\(error)")
        }
        #expect(throws: PermanentJobError.self) { try attempt("\(TestEnvironment.httpURL)/status/403") }
        // An empty download and a header-only one, as with files.
        #expect(throws: PermanentJobError.self) { try attempt(try upload("empty.csv", "")) }
        let url = try upload("header-only.csv", "symbol,side,quantity,entry_price,opened_at\n") + "?token=abc"
        let headerOnly = try TradesImport.run(url: url, client: FerryHTTPClient(), userID: 1, profileName: nil, profilesDirectory: profilesDirectory, jobID: UUID().uuidString, on: fixture.db)
        #expect(headerOnly.accepted == 0 && headerOnly.rejected == 0)
        #expect(try fixture.db.query("SELECT source FROM imports WHERE id = $1", [headerOnly.importID]).first?.decode("source", as: String.self).hasSuffix("?token=***") == true)
    }

    @Test func importsAreReadableThroughTheAdminAPI() throws {
        let summary = try run(write("admin.csv", """
            symbol,side,quantity,entry_price,opened_at
            AAPL,buy,1,10,2026-11-02 10:00:00
            AAPL,hold,1,10,2026-11-02 10:00:00
            """))
        let port = try FreePort.find()
        let admin = try ChildProcess([TestEnvironment.ferryBinary, "admin"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": "itest-\(UUID().uuidString.prefix(8))", "FERRY_ADMIN_ADDR": "127.0.0.1:\(port)",
            "DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)",
        ])
        defer { admin.signal(SIGTERM); admin.waitForExit(timeout: 10) }
        let http = FerryHTTPClient()
        let base = "http://127.0.0.1:\(port)/api/v1/imports"
        #expect(eventually(timeout: 20) { (try? http.execute(FerryHTTPClient.Request(url: base)))?.status == 200 }, "\(admin.output.suffix(2000))")
        func get(_ url: String) throws -> (Int, JSONValue?) {
            let response = try http.execute(FerryHTTPClient.Request(url: url))
            return (response.status, try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)))
        }
        let (status, listed) = try get(base + "?limit=5")
        #expect(status == 200 && listed?["imports"]?.elements?.first?["id"]?.int == Int(summary.importID), "\(String(describing: listed))")
        #expect(listed?["imports"]?.elements?.first?["started_at"]?.string?.hasPrefix("20") == true)
        let (found, shown) = try get(base + "/\(summary.importID)")
        #expect(found == 200 && shown?["import"]?["accepted"]?.int == 1 && shown?["import"]?["status"] == .string("succeeded"))
        #expect(shown?["refused_rows"]?.elements?.first?["line"]?.int == 3 && shown?["refused_rows"]?.elements?.first?["column"] == .string("side"), "\(String(describing: shown))")
        #expect(try get(base + "/999999999").0 == 404)
        #expect(try get(base + "/abc").0 == 400)
        #expect(try get(base + "?limit=0").0 == 400)
        // The dashboard lists the newest imports too.
        let page = try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/records")).text
        #expect(page.contains("<h2 id=\"imports\">Imports</h2>") && page.contains("admin.csv") && page.contains("<td>succeeded</td>"), "\(page.suffix(3000))")
        #expect(!page.contains("older →"), "one import fills no page")

        // 24 more: the API and the dashboard page them by id, newest first, none twice.
        try fixture.db.query("""
            INSERT INTO imports (job_id, user_id, source, status)
            SELECT 'paged-' || n, user_id, 'paged-' || n || '.csv', 'succeeded' FROM imports, generate_series(1, 24) n WHERE id = $1
            """, [summary.importID])
        let newest = try #require(try get(base + "?limit=20").1?["imports"]?.elements?.compactMap { $0["id"]?.int })
        let boundary = try #require(newest.last)
        let older = try #require(try get(base + "?limit=20&before=\(boundary)").1?["imports"]?.elements?.compactMap { $0["id"]?.int })
        #expect(newest.count == 20 && older.count == 5 && Set(newest).isDisjoint(with: older) && (newest + older) == (newest + older).sorted(by: >), "\(newest) \(older)")
        #expect(older.last == Int(summary.importID))
        #expect(try get(base + "?before=0").0 == 400)
        #expect(try get(base + "?before=x").0 == 400)
        let first = try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/records")).text
        let link = "/records?resource=imports&amp;before=\(boundary)"
        #expect(first.contains("<a href=\"\(link)\">older →</a>"), "\(first.suffix(3000))")
        let second = try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/records?resource=imports&before=\(boundary)")).text
        #expect(second.contains("admin.csv") && !second.contains("paged-24.csv") && second.contains(">newest</a>") && !second.contains("older →"), "\(second.suffix(3000))")
        #expect(try http.execute(FerryHTTPClient.Request(url: "http://127.0.0.1:\(port)/records?resource=nothing")).status == 404)
    }

    @Test func aWorkerKilledMidFileResumesAndTheTableEqualsACleanImport() throws {
        // 150,000 rows without broker ids (keys from row hashes and occurrences), some repeated.
        var text = "symbol,side,quantity,entry_price,opened_at\n"
        text.reserveCapacity(150_000 * 45)
        for index in 0..<150_000 {
            text += "S\(index % 500),\(index % 2 == 0 ? "buy" : "sell"),\(1 + index % 7),\(100 + index % 13).25,2026-10-\(10 + index % 20) 1\(index % 10):00:00\n"
        }
        let source = try write("large.csv", text)
        let namespace = "itest-\(UUID().uuidString.prefix(8))"
        let keys = QueueKeyspace(namespace: namespace)
        let redis = try RedisConnection(url: TestEnvironment.redisURL)
        let dispatcher = Dispatcher(redis: RedisConnectionPool(configuration: try RedisConfiguration(url: TestEnvironment.redisURL)), keys: keys)
        let id = try dispatcher.enqueue(.init(type: "trades.import", args: ["user_id": 1, "source": .string(source)], options: .init(queue: "imports")))
        let worker = try ChildProcess([TestEnvironment.ferryBinary, "worker", "--queues", "imports", "--heartbeat", "0.3", "--heartbeat-ttl", "1.5"], environment: [
            "FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace, "FERRY_IMPORT_ROOT": root,
            "DATABASE_URL": TestEnvironment.postgresURL + "?search_path=\(fixture.schema)",
        ])
        defer { worker.signal(SIGTERM); worker.waitForExit(timeout: 30) }
        // Kill -9 the worker process once some chunks are committed and more remain.
        let midway = try eventually(timeout: 60) {
            let done = try fixture.int("SELECT COALESCE(max(bytes_done), 0)::int FROM imports WHERE job_id = $1", [id])
            return done > 0 && done < text.utf8.count / 2
        }
        #expect(midway, "\(worker.output.suffix(2000))")
        // Its progress shows with its worker's heartbeat: bytes done of the file's size.
        let size = text.utf8.count
        let reported = try eventually(timeout: 10) {
            let progress = try WorkerRegistry(keys: keys).liveWorkers(on: redis).flatMap(\.busy).first { $0.id == id }?.progress
            return progress?.total == size && (progress?.done ?? 0) > 0 && progress?.message?.contains("trades imported") == true
        }
        #expect(reported)
        let stats = try ChildProcess([TestEnvironment.ferryBinary, "stats"], environment: ["FERRY_REDIS_URL": TestEnvironment.redisURL, "FERRY_NAMESPACE": namespace])
        #expect(stats.waitForExit(timeout: 30) == 0)
        #expect(stats.output.contains("running trades.import \(id): ") && stats.output.contains(" of \(size) ("), "\(stats.output)")
        let victim = try #require(try WorkerRegistry(keys: keys).liveWorkers(on: redis).first)
        kill(pid_t(victim.pid), SIGKILL)
        let result = try #require(try JobResults(keys: keys).wait(id: id, queue: "imports", timeout: .seconds(120), on: redis), "\(worker.output.suffix(2000))")
        #expect(result.status == .succeeded, "\(result)")
        #expect(worker.output.contains("recovered the jobs of an exited worker process"))
        // The same file imported cleanly for user 2: the same trades, no gap, no duplicate.
        let clean = try run(source, user: 2)
        #expect(clean.accepted == 150_000)
        #expect(try fixture.int("SELECT count(*)::int FROM trades WHERE user_id = 1") == 150_000)
        #expect(try fixture.int("""
            SELECT count(*)::int FROM (
                (SELECT trade_key, symbol, side, quantity, entry_price, opened_at FROM trades WHERE user_id = 1
                 EXCEPT SELECT trade_key, symbol, side, quantity, entry_price, opened_at FROM trades WHERE user_id = 2)
                UNION ALL
                (SELECT trade_key, symbol, side, quantity, entry_price, opened_at FROM trades WHERE user_id = 2
                 EXCEPT SELECT trade_key, symbol, side, quantity, entry_price, opened_at FROM trades WHERE user_id = 1)) AS difference
            """) == 0)
        #expect(try fixture.int("SELECT accepted::int FROM imports WHERE job_id = $1", [id]) == 150_000)
        // Resumed at its checkpoint, not started over: nothing of the first run came back as a duplicate.
        #expect(try fixture.int("SELECT duplicates::int FROM imports WHERE job_id = $1", [id]) == 0)
    }
}
