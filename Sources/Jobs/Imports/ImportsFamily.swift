public import ArgumentParser
public import Ferry
public import FerryAdmin
public import FerryPostgres
public import FerryWorker

/// `trades.import`; `ferry imports`; the admin endpoint's `imports`.
public struct ImportsFamily: JobFamily {
    public let name = "imports"
    public let requires = ["accounts", "analytics"]
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(TradesImport())
    }

    public var migrations: [PostgresMigration] { [ImportSchema.migration, ImportSchema.profiles] }
    public var commands: [any ParsableCommand.Type] { [ImportsCommand.self] }
    public func adminResources(_ context: AdminContext) -> [AdminResource] { [Self.importsResource(context)] }

    /// `GET /api/v1/imports[/{id}]`: trade imports (`ferry imports` over HTTP).
    static func importsResource(_ context: AdminContext) -> AdminResource {
        @Sendable func query<Value>(_ body: (PostgresConnection) throws -> Value) throws -> Value { try context.query("imports", body) }
        return AdminResource(
            name: "imports", pagedBy: "id",
            list: { request in try query { try ImportRecords.imports(limit: request.limit, before: request.before, on: $0) } },
            show: { id in
                guard let number = Int64(id), number > 0 else { throw AdminResource.Failure.badRequest("an import id is a positive whole number, not '\(id.prefix(40))'") }
                return try query { try ImportRecords.detail(id: number, on: $0) }
            }
        )
    }
}
