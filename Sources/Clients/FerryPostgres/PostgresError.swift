public import FerrySupport

/// An error reported by the PostgreSQL server, with the fields libpq exposes.
public struct PostgresServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The five-character SQLSTATE code, such as `23505` (unique violation) or `42P01` (no such table).
    public var sqlState: String
    public var severity: String
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?

    public init(
        sqlState: String, severity: String, message: String, detail: String? = nil, hint: String? = nil, constraint: String? = nil,
        table: String? = nil, column: String? = nil
    ) {
        self.sqlState = sqlState
        self.severity = severity
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    public var description: String {
        var text = "\(severity) \(sqlState): \(message)"
        if let detail { text += " (\(detail))" }
        if let hint { text += " hint: \(hint)" }
        return text
    }
}

/// Everything that can go wrong talking to PostgreSQL, with a message a person can act on.
///
/// No case ever carries a password.
public enum PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String, reason: String)
    /// No connection could be made: server down, wrong password, unknown database.
    case connectionFailed(endpoint: String, reason: String)
    /// An established connection broke. The next call reconnects.
    case connectionLost(endpoint: String, reason: String)
    /// The server rejected a statement; carries the SQLSTATE.
    case server(PostgresServerError)
    /// A column's value could not be decoded as the requested Swift type.
    case decoding(column: String, type: String, reason: String)
    /// A column name that the result does not have.
    case missingColumn(String, available: [String])
    /// `COMMIT` ended in a rollback because an earlier statement of the transaction failed.
    case transactionRolledBack
    /// A COPY could not be carried out.
    case copyFailed(reason: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "invalid PostgreSQL URL '\(url)': \(reason)"
        case .connectionFailed(let endpoint, let reason):
            return "cannot connect to PostgreSQL at \(endpoint): \(reason)"
        case .connectionLost(let endpoint, let reason):
            return "lost connection to PostgreSQL at \(endpoint): \(reason)"
        case .server(let error):
            return "PostgreSQL \(error)"
        case .decoding(let column, let type, let reason):
            return "cannot decode column '\(column)' as \(type): \(reason)"
        case .missingColumn(let name, let available):
            return "no column '\(name)' in the result (columns: \(available.joined(separator: ", ")))"
        case .transactionRolledBack:
            return "the transaction was rolled back because a statement in it failed"
        case .copyFailed(let reason):
            return "COPY failed: \(reason)"
        }
    }

    /// The SQLSTATE of a server error.
    public var sqlState: String? {
        if case .server(let error) = self { return error.sqlState }
        return nil
    }

    /// SQLSTATE classes no retry can mend: cardinality (21), data exceptions (22), integrity
    /// constraints (23), dependent privileges (2B), invalid schema names (3F), syntax errors and
    /// access rules (42), check options (44), unsupported features (0A). Serialization failures
    /// and deadlocks (40), resources (53), operator intervention and timeouts (57), system errors
    /// (58), connections (08) and locks not available (55) may pass on a later attempt.
    static let permanentClasses: Set<Substring> = ["21", "22", "23", "2B", "3F", "42", "44", "0A"]

    /// True when the connection itself is gone, so a new attempt may succeed.
    public var isConnectionError: Bool {
        switch self {
        case .connectionFailed, .connectionLost: return true
        case .server(let error): return error.sqlState.hasPrefix("08") || error.sqlState == "57P01"
        default: return false
        }
    }
}

extension PostgresError: RetryAwareError {
    /// Statements the server refused for what they are (see ``permanentClasses``), values that
    /// cannot be decoded, columns that are not there, and URLs that cannot be read: no later
    /// attempt mends them.
    public var isPermanent: Bool {
        switch self {
        case .server(let error): return Self.permanentClasses.contains(error.sqlState.prefix(2))
        case .invalidURL, .decoding, .missingColumn: return true
        case .connectionFailed, .connectionLost, .transactionRolledBack, .copyFailed: return false
        }
    }
}
