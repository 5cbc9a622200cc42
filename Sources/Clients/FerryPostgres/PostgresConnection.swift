import CLibPQ
import Foundation

/// One connection to PostgreSQL over libpq.
///
/// Parameterized queries only: values always travel as `$n` parameters, never spliced into SQL.
/// A connection is owned by one thread at a time (use ``PostgresConnectionPool`` to share). Calls
/// block the calling thread, so make them from dedicated threads, not from async tasks.
///
/// When the connection breaks, the call that noticed throws ``PostgresError/connectionLost(endpoint:reason:)``
/// and the next call reconnects, retrying with backoff for up to ``PostgresConfiguration/reconnectWindow``.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked Sendable: PGconn is mutable C state. A connection is used by one thread at a
    // time — the pool lends it exclusively — so no two threads touch it at once.

    public let configuration: PostgresConfiguration
    private var connection: OpaquePointer?

    /// Connects; throws at once if the server is unreachable or refuses the credentials.
    public init(configuration: PostgresConfiguration) throws(PostgresError) {
        self.configuration = configuration
        self.connection = try Self.open(configuration)
    }

    /// Connects to the server at `url` (see ``PostgresConfiguration/init(url:)``).
    public convenience init(url: String) throws(PostgresError) {
        try self.init(configuration: PostgresConfiguration(url: url))
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// The server process serving this connection (`pg_backend_pid()`), or 0 when disconnected.
    public var backendPID: Int { connection.map { Int(PQbackendPID($0)) } ?? 0 }

    // MARK: Queries

    /// Runs one statement with `$1, $2, …` bound to `parameters`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws(PostgresError) -> PostgresResult {
        let connection = try connected()
        let result = Self.withParameters(parameters) { count, types, values in
            PQexecParams(connection, sql, count, types, values, nil, nil, 0)
        }
        return try consume(result, connection)
    }

    /// Runs a script of several statements with no parameters — for migrations shipped with the
    /// code. Never build the text from input: values belong in ``query(_:_:)`` parameters.
    public func executeScript(_ sql: StaticString) throws(PostgresError) {
        try executeScript(trusted: sql.description)
    }

    func executeScript(trusted sql: String) throws(PostgresError) {
        let connection = try connected()
        var result = PQexec(connection, sql)
        var firstError: PostgresError?
        while let current = result {
            do { _ = try consume(current, connection) } catch { firstError = firstError ?? error }
            result = PQgetResult(connection)
        }
        if let firstError { throw firstError }
    }

    /// Runs `body` inside `BEGIN … COMMIT`; rolls back and rethrows if `body` throws.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel = .readCommitted,
        _ body: (PostgresConnection) throws -> Result
    ) throws -> Result {
        try query(isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        let value: Result
        do {
            value = try body(self)
        } catch {
            if connection != nil { _ = try? query("ROLLBACK") }
            throw error
        }
        let commit = try query("COMMIT")
        if commit.commandTag == "ROLLBACK" { throw PostgresError.transactionRolledBack }
        return value
    }

    /// Transaction isolation levels.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Streams data into a `COPY … FROM STDIN` statement and returns the number of rows copied.
    ///
    /// `body` writes rows through the ``PostgresCopyWriter``; data is sent in chunks as it is
    /// written. If `body` throws, the COPY is aborted (nothing is copied) and the error rethrown.
    @discardableResult
    public func copy(_ sql: String, _ body: (inout PostgresCopyWriter) throws -> Void) throws -> Int {
        let connection = try connected()
        let start = PQexec(connection, sql)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try consume(start, connection)
            throw PostgresError.copyFailed(reason: "'\(sql.prefix(60))' is not a COPY … FROM STDIN statement")
        }
        PQclear(start)
        var writer = PostgresCopyWriter { bytes throws(PostgresError) in
            let sent = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
            }
            guard sent == 1 else { throw self.connectionLost(connection) }
        }
        do {
            try body(&writer)
            try writer.flush()
        } catch {
            let reason = "aborted by the client: \(error)"
            if PQputCopyEnd(connection, reason) == 1 { drainResults(connection) }
            throw error
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw connectionLost(connection) }
        var copied = 0
        var firstError: PostgresError?
        while let result = PQgetResult(connection) {
            do { copied = try consume(result, connection).affectedRows } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
        return copied
    }

    // MARK: Connection management

    private func connected() throws(PostgresError) -> OpaquePointer {
        if let connection, PQstatus(connection) == CONNECTION_OK { return connection }
        if let connection { PQfinish(connection) }
        connection = nil
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.reconnectWindow
        var delay = Duration.milliseconds(50)
        while true {
            do {
                let opened = try Self.open(configuration)
                connection = opened
                return opened
            } catch {
                guard clock.now + delay < deadline, !Self.isPermanent(error) else { throw error }
                Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// Reads a result: rows and command tag, or the server error with its SQLSTATE.
    private func consume(_ result: OpaquePointer?, _ connection: OpaquePointer) throws(PostgresError) -> PostgresResult {
        guard let result else { throw connectionLost(connection) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_EMPTY_QUERY:
            return Self.read(result)
        default:
            if PQstatus(connection) != CONNECTION_OK { throw connectionLost(connection) }
            throw .server(Self.serverError(result))
        }
    }

    private func connectionLost(_ connection: OpaquePointer) -> PostgresError {
        let reason = Self.message(PQerrorMessage(connection))
        PQfinish(connection)
        self.connection = nil
        return .connectionLost(endpoint: configuration.endpoint, reason: reason.isEmpty ? "connection closed" : reason)
    }

    private func drainResults(_ connection: OpaquePointer) {
        while let result = PQgetResult(connection) { PQclear(result) }
    }

    private static func open(_ configuration: PostgresConfiguration) throws(PostgresError) -> OpaquePointer {
        let parameters = configuration.connectionParameters
        let connection = withCStrings(parameters.map(\.0)) { keywords in
            withCStrings(parameters.map(\.1)) { values in PQconnectdbParams(keywords, values, 0) }
        }
        guard let connection else {
            throw .connectionFailed(endpoint: configuration.endpoint, reason: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = message(PQerrorMessage(connection))
            PQfinish(connection)
            throw .connectionFailed(endpoint: configuration.endpoint, reason: reason)
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        return connection
    }

    /// Failures that waiting will not fix: bad credentials, unknown database or role.
    private static func isPermanent(_ error: PostgresError) -> Bool {
        guard case .connectionFailed(_, let reason) = error else { return true }
        return reason.contains("password authentication failed") || reason.contains("does not exist")
            || reason.contains("no password supplied")
    }

    // MARK: C plumbing

    private static func read(_ result: OpaquePointer) -> PostgresResult {
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = PostgresColumns(
            names: (0..<fieldCount).map { String(cString: PQfname(result, Int32($0))) },
            types: (0..<fieldCount).map { PostgresTypeOID(PQftype(result, Int32($0))) }
        )
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for field in 0..<Int32(fieldCount) {
                if PQgetisnull(result, row, field) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, field))
                    let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, field), count: length)
                    values.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let tag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresResult(columns: columns, rows: rows, affectedRows: affected, commandTag: tag)
    }

    private static func serverError(_ result: OpaquePointer) -> PostgresServerError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        return PostgresServerError(
            sqlState: field("C") ?? "XX000",
            severity: field("V") ?? field("S") ?? "ERROR",
            message: field("M") ?? message(PQresultErrorMessage(result)),
            detail: field("D"),
            hint: field("H"),
            constraint: field("n"),
            table: field("t"),
            column: field("c")
        )
    }

    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "\n", with: "; ")
    }

    private static func withParameters<Result>(
        _ parameters: [any PostgresEncodable],
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    ) -> Result {
        let types = parameters.map { Oid(type(of: $0).postgresType) }
        let texts = parameters.map(\.postgresText)
        var pointers: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0) } }
        defer { pointers.forEach { free($0) } }
        return types.withUnsafeBufferPointer { typeBuffer in
            pointers.withUnsafeMutableBufferPointer { valueBuffer in
                valueBuffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                    body(Int32(parameters.count), typeBuffer.baseAddress, values.baseAddress)
                }
            }
        }
    }

    private static func withCStrings<Result>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result
    ) -> Result {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { copies.forEach { free($0) } }
        return copies.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { body($0.baseAddress!) }
        }
    }
}
