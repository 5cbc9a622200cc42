import FerryPostgres
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// Against the test PostgreSQL (`ops/test`). Each test works in temporary tables of its own session.
@Suite struct PostgresTests {
    let connection: PostgresConnection

    init() throws {
        connection = try PostgresConnection(url: TestEnvironment.postgresURL)
    }

    @Test func configurationParsesAndHidesThePassword() throws {
        let configuration = try PostgresConfiguration(url: "postgres://app:pa%3Ass@db.internal:6432/trades?sslmode=require&statement_timeout=30s")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6432)
        #expect(configuration.user == "app")
        #expect(configuration.password == "pa:ss")
        #expect(configuration.database == "trades")
        #expect(configuration.sslMode == "require")
        #expect(configuration.statementTimeout == .seconds(30))
        #expect(!configuration.description.contains("pa:ss"))
        do {
            _ = try PostgresConfiguration(url: "postgres://app:hunter2@db/x?colour=red")
            Issue.record("an unknown parameter was accepted")
        } catch {
            #expect(error.description.contains("unknown parameter 'colour'"))
            #expect(!error.description.contains("hunter2"))
        }
        // A password given as a query parameter is used, and hidden in errors too.
        #expect(try PostgresConfiguration(url: "postgres://db/x?user=app&password=hunter2").password == "hunter2")
        do {
            _ = try PostgresConfiguration(url: "postgres://db/x?password=hunter2&colour=red")
            Issue.record("an unknown parameter was accepted")
        } catch {
            #expect(!error.description.contains("hunter2"), "\(error)")
        }
        // Absurd timeouts are refused, not trapped on.
        #expect(throws: PostgresError.self) { try PostgresConfiguration(url: "postgres://db/x?statement_timeout=1e300s") }
    }

    @Test func decodesEachTypeToItsSwiftType() throws {
        let row = try #require(try connection.query("""
            SELECT 'héllo'::text AS text, 42::int AS int, 9007199254740993::bigint AS big,
                   '12345678901234567890.123456789'::numeric AS amount, true AS flag,
                   '2026-02-28 23:59:59.123456+02'::timestamptz AS at, '{"a": [1, 2]}'::jsonb AS doc,
                   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, NULL::text AS nothing,
                   1.5::float8 AS ratio
            """).first)
        #expect(try row.decode("text", as: String.self) == "héllo")
        #expect(try row.decode("int", as: Int.self) == 42)
        #expect(try row.decode("big", as: Int64.self) == 9_007_199_254_740_993)
        #expect(try row.decode("amount", as: Decimal.self) == Decimal(string: "12345678901234567890.123456789"))
        #expect(try row.decode("amount", as: String.self) == "12345678901234567890.123456789")
        #expect(try row.decode("flag", as: Bool.self) == true)
        let at = try row.decode("at", as: Date.self)
        #expect(abs(at.timeIntervalSince1970 - 1_772_315_999.123456) < 0.000_001)
        struct Doc: Decodable, Equatable { var a: [Int] }
        #expect(try row.decode("doc", as: PostgresJSON.self).decode(as: Doc.self) == Doc(a: [1, 2]))
        #expect(try row.decode("id", as: UUID.self) == UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"))
        #expect(try row.decode("nothing", as: String?.self) == nil)
        #expect(try row.isNull("nothing"))
        #expect(try row.decode("ratio", as: Double.self) == 1.5)
    }

    @Test func refusesLossyOrWrongDecoding() throws {
        let row = try #require(try connection.query("SELECT 10.25::numeric AS amount, NULL::int AS missing").first)
        do {
            _ = try row.decode("amount", as: Double.self)
            Issue.record("numeric decoded as Double")
        } catch {
            #expect(error.description.contains("never Double"))
        }
        #expect(throws: PostgresError.self) { try row.decode("missing", as: Int.self) }
        do {
            _ = try row.decode("amonut", as: Decimal.self)
            Issue.record("a column that is not in the row was decoded")
        } catch {
            #expect(error == .missingColumn("amonut", available: ["amount", "missing"]))
        }
    }

    @Test func parametersRoundTripAndAreNeverSpliced() throws {
        try connection.query("""
            CREATE TEMP TABLE things (id uuid, name text, amount numeric(30, 10), at timestamptz,
                                      flag bool, n bigint, doc jsonb, note text)
            """)
        let id = UUID()
        let at = Date(timeIntervalSince1970: 1_790_000_000.654321)
        let hostile = "x'); DROP TABLE things; --"
        let inserted = try connection.query(
            "INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [id, hostile, Decimal(string: "0.1000000001")!, at, false, Int.max, PostgresJSON(text: #"{"k": "v"}"#), String?.none]
        )
        #expect(inserted.affectedRows == 1)
        let row = try #require(try connection.query("SELECT * FROM things WHERE id = $1", [id]).first)
        #expect(try row.decode("name", as: String.self) == hostile)
        #expect(try row.decode("amount", as: Decimal.self) == Decimal(string: "0.1000000001"))
        #expect(abs(try row.decode("at", as: Date.self).timeIntervalSince(at)) < 0.000_001)
        #expect(try row.decode("flag", as: Bool.self) == false)
        #expect(try row.decode("n", as: Int.self) == Int.max)
        #expect(try row.decode("doc", as: PostgresJSON.self).text == #"{"k": "v"}"#)
        #expect(try row.decode("note", as: String?.self) == nil)
    }

    @Test func badSQLCarriesSQLSTATEAndTheServerMessage() throws {
        do {
            try connection.query("SELECT * FROM no_such_table")
            Issue.record("a missing table was found")
        } catch {
            guard case .server(let server) = error else { Issue.record("\(error)"); return }
            #expect(server.sqlState == "42P01")
            #expect(server.message.contains("no_such_table"))
        }
        #expect(throws: PostgresError.self) { try connection.query("SELEC 1") }
        do { try connection.query("SELEC 1") } catch { #expect(error.sqlState == "42601") }

        try connection.query("CREATE TEMP TABLE uniq (k text CONSTRAINT uniq_k UNIQUE)")
        try connection.query("INSERT INTO uniq VALUES ($1)", ["a"])
        do {
            try connection.query("INSERT INTO uniq VALUES ($1)", ["a"])
            Issue.record("a duplicate key was inserted")
        } catch {
            guard case .server(let server) = error else { Issue.record("\(error)"); return }
            #expect(server.sqlState == "23505")
            #expect(server.constraint == "uniq_k")
        }
        // The connection is fine after errors.
        #expect(try connection.query("SELECT 1 AS one").first?.decode("one", as: Int.self) == 1)
    }

    /// What retrying cannot mend is permanent, by SQLSTATE class; what a later attempt may pass is not.
    @Test func errorsSayWhetherRetryingCanMendThem() throws {
        func failure(_ sql: String) -> PostgresError? {
            do { try connection.query(sql); return nil } catch { return error }
        }
        try connection.query("CREATE TEMP TABLE parent (id int PRIMARY KEY)")
        try connection.query("CREATE TEMP TABLE child (id int PRIMARY KEY, parent int REFERENCES parent (id), n int CHECK (n > 0))")
        try connection.query("INSERT INTO parent VALUES (1)")
        try connection.query("INSERT INTO child VALUES (1, 1, 1)")
        for (sql, state) in [
            ("INSERT INTO child VALUES (2, 42, 1)", "23503"), ("INSERT INTO child VALUES (1, 1, 1)", "23505"), ("INSERT INTO child VALUES (3, 1, 0)", "23514"),
            ("SELECT 1 / 0", "22012"), ("SELECT 'x'::int", "22P02"), ("SELECT * FROM no_such_table", "42P01"), ("SELEC 1", "42601"),
        ] {
            let error = try #require(failure(sql), "\(sql) did not fail")
            #expect(error.sqlState == state && error.isPermanent, "\(sql): \(error)")
        }
        // A serialization failure or deadlock, a lost or refused connection: a later attempt may pass.
        let transient = PostgresServerError(sqlState: "40001", severity: "ERROR", message: "could not serialize access")
        #expect(!PostgresError.server(transient).isPermanent)
        #expect(!PostgresError.server(PostgresServerError(sqlState: "40P01", severity: "ERROR", message: "deadlock detected")).isPermanent)
        #expect(!PostgresError.server(PostgresServerError(sqlState: "57014", severity: "ERROR", message: "canceling statement due to statement timeout")).isPermanent)
        #expect(!PostgresError.connectionLost(endpoint: "db:5432", reason: "reset").isPermanent)
        do {
            _ = try PostgresConnection(url: "postgres://nobody@127.0.0.1:1/nothing")
            Issue.record("connected to nothing")
        } catch {
            #expect(!error.isPermanent, "\(error)")
        }
    }

    @Test func transactionsCommitOrRollBack() throws {
        try connection.query("CREATE TEMP TABLE ledger (n int)")
        try connection.transaction { try $0.query("INSERT INTO ledger VALUES (1)") }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { tx in
                try tx.query("INSERT INTO ledger VALUES (2)")
                throw Abort()
            }
        }
        // A failed statement whose error the body swallowed: COMMIT rolls back, and we say so.
        #expect(throws: PostgresError.transactionRolledBack) {
            try connection.transaction { tx in
                try tx.query("INSERT INTO ledger VALUES (3)")
                _ = try? tx.query("INSERT INTO ledger VALUES ('not a number')")
            }
        }
        let rows = try connection.query("SELECT n FROM ledger ORDER BY n").rows
        #expect(try rows.map { try $0.decode("n", as: Int.self) } == [1])
    }

    @Test func copyStreamsRowsAndReportsConstraintErrors() throws {
        try connection.query("CREATE TEMP TABLE trades (id int PRIMARY KEY, symbol text, note text)")
        let copied = try connection.copy("COPY trades (id, symbol, note) FROM STDIN") { writer in
            for id in 1...20_000 {
                try writer.writeRow([String(id), "AAPL", id % 2 == 0 ? nil : "tab\there\nnewline \\ back"])
            }
        }
        #expect(copied == 20_000)
        let note = try connection.query("SELECT note FROM trades WHERE id = 1").first?.decode("note", as: String.self)
        #expect(note == "tab\there\nnewline \\ back")

        // A row that breaks the primary key fails the whole COPY; the connection stays usable.
        do {
            try connection.copy("COPY trades (id, symbol, note) FROM STDIN") { writer in
                try writer.writeRow(["20001", "MSFT", nil])
                try writer.writeRow(["5", "MSFT", nil])
            }
            Issue.record("a duplicate key was copied")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23505")
        }
        // A COPY whose producer throws is aborted: nothing is copied.
        struct ProducerFailed: Error {}
        #expect(throws: ProducerFailed.self) {
            try connection.copy("COPY trades (id, symbol, note) FROM STDIN") { writer in
                try writer.writeRow(["30001", "IBM", nil])
                throw ProducerFailed()
            }
        }
        #expect(try connection.query("SELECT count(*)::int AS n FROM trades").first?.decode("n", as: Int.self) == 20_000)
    }

    @Test func statementTimeoutCancelsSlowStatements() throws {
        var configuration = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        configuration.statementTimeout = .milliseconds(200)
        let limited = try PostgresConnection(configuration: configuration)
        do {
            try limited.query("SELECT pg_sleep(3)")
            Issue.record("pg_sleep(3) finished under a 200 ms statement timeout")
        } catch {
            #expect(error.sqlState == "57014")
        }
        #expect(try limited.query("SELECT 1 AS one").rows.count == 1)
    }

    @Test func serverDownAndWrongPasswordAreClearAndSecretFree() throws {
        let port = try FreePort.find()
        do {
            _ = try PostgresConnection(url: "postgres://ferry:opensesame@127.0.0.1:\(port)/ferry?connect_timeout=2")
            Issue.record("connected to a port nobody listens on")
        } catch {
            guard case .connectionFailed(let endpoint, let reason) = error else { Issue.record("\(error)"); return }
            #expect(endpoint == "127.0.0.1:\(port)")
            #expect(reason.contains("refused"), "\(reason)")
            #expect(!error.description.contains("opensesame"))
        }
        var wrong = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        wrong.password = "definitely-wrong-password"
        do {
            _ = try PostgresConnection(configuration: wrong)
            Issue.record("a wrong password was accepted")
        } catch {
            #expect(error.description.contains("password authentication failed"), "\(error)")
            #expect(!error.description.contains("definitely-wrong-password"))
        }
    }

    @Test func aTerminatedBackendReconnectsOnTheNextCall() throws {
        let pid = connection.backendPID
        let admin = try PostgresConnection(url: TestEnvironment.postgresURL)
        try admin.query("SELECT pg_terminate_backend($1)", [pid])
        do {
            try connection.query("SELECT 1")
            Issue.record("a query on a terminated backend succeeded")
        } catch {
            #expect(error.isConnectionError, "\(error)")
        }
        #expect(try connection.query("SELECT 2 AS two").first?.decode("two", as: Int.self) == 2)
        #expect(connection.backendPID != pid)
    }

    @Test func poolServesManyThreads() throws {
        let pool = PostgresConnectionPool(configuration: try PostgresConfiguration(url: TestEnvironment.postgresURL), capacity: 4)
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for _ in 0..<25 {
                let value = try? pool.withConnection { try $0.query("SELECT $1::int AS v", [index]).first?.decode("v", as: Int.self) }
                total.add(value.flatMap { $0 } ?? -1_000, ordering: .relaxed)
            }
        }
        #expect(total.load(ordering: .relaxed) == (0..<8).reduce(0, +) * 25)
    }
}
