import FerryJobs
import FerryPostgres
import FerryTestSupport
import Foundation

/// A schema of its own in the test database, migrated, with connections that use it.
final class DatabaseFixture: @unchecked Sendable {
    // @unchecked Sendable: the connection is used by the owning test only; the pool is Sendable.
    let schema = "t_\(UUID().uuidString.prefix(8).lowercased())"
    let configuration: PostgresConfiguration
    let db: PostgresConnection
    let pool: PostgresConnectionPool

    init() throws {
        let admin = try PostgresConnection(url: TestEnvironment.postgresURL)
        try admin.query("CREATE SCHEMA \(schema)")
        var configuration = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        configuration.searchPath = schema
        self.configuration = configuration
        db = try PostgresConnection(configuration: configuration)
        try FerrySchema.migrator.migrate(db)
        pool = PostgresConnectionPool(configuration: configuration, capacity: 4)
    }

    deinit {
        pool.drain()
        if let admin = try? PostgresConnection(url: TestEnvironment.postgresURL) {
            _ = try? admin.query("DROP SCHEMA \(schema) CASCADE")
        }
    }

    /// A second connection to the same schema.
    func connection() throws -> PostgresConnection { try PostgresConnection(configuration: configuration) }

    func int(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try db.query(sql, parameters).first?.decode(at: 0, as: Int.self) ?? -1
    }
}
