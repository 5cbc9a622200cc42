/// The column names and types of a result, shared by its rows.
public struct PostgresColumns: Sendable, Equatable {
    public let names: [String]
    public let types: [PostgresTypeOID]

    func index(of name: String) -> Int? { names.firstIndex(of: name) }
}

/// One row of a query result. Values are kept in PostgreSQL's text format and decoded on access.
public struct PostgresRow: Sendable {
    public let columns: PostgresColumns
    let values: [String?]

    /// Whether the column holds SQL NULL.
    public func isNull(_ column: String) throws(PostgresError) -> Bool {
        values[try index(column)] == nil
    }

    /// Decodes a non-NULL column; NULL throws. Use an `Optional` type for nullable columns.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        try decode(at: try index(column), as: type)
    }

    /// Decodes a column that may be NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T?.Type = T?.self) throws(PostgresError) -> T? {
        let position = try index(column)
        guard values[position] != nil else { return nil }
        return try decode(at: position, as: T.self)
    }

    /// Decodes the column at `position` (0-based).
    public func decode<T: PostgresDecodable>(at position: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        let name = columns.names[position]
        guard let text = values[position] else {
            throw .decoding(column: name, type: "\(T.self)", reason: "the value is NULL; decode as \(T.self)? instead")
        }
        do {
            return try T(postgresText: text, type: columns.types[position])
        } catch {
            throw .decoding(column: name, type: "\(T.self)", reason: error.reason)
        }
    }

    private func index(_ column: String) throws(PostgresError) -> Int {
        guard let position = columns.index(of: column) else { throw .missingColumn(column, available: columns.names) }
        return position
    }
}

/// What a statement returned: its rows (if any) and the number of rows it affected.
public struct PostgresResult: Sendable {
    public let columns: PostgresColumns
    public let rows: [PostgresRow]
    /// Rows inserted, updated, deleted, copied or selected, from the command tag.
    public let affectedRows: Int
    /// The command tag (`INSERT 0 1`, `UPDATE 3`, `SELECT 2`, …).
    public let commandTag: String

    /// The first row, if any.
    public var first: PostgresRow? { rows.first }
}
