import Ferry
import FerryJobs
import FerryPostgres
import FerryWorker
import Testing

private struct Billing: JobFamily {
    let name = "billing"
    var requires: [String] = ["accounts"]
    var version = 100
    func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {}
    var migrations: [PostgresMigration] { [PostgresMigration(version: version, name: "invoices", sql: "CREATE TABLE invoices (id bigint)")] }
}

/// Families compose into one app: each contributes its types, tables and commands, and the
/// list is checked before anything runs.
@Suite struct FamilyTests {
    @Test func ferrysOwnFamiliesComposeIntoEveryTypeAndMigration() throws {
        let application = try FerryApplication(families: JobCatalog.families)
        let registry = try application.registry(jobsDirectory: nil, testJobs: false)
        for type in ["ferry.noop", "stories.expire", "mining.rewards", "analytics.rollup", "email.send", "notifications.digest",
                     "trades.import", "claude.message", "claude.batch", "anonymize.batch", "anonymize.chunk", "anonymize.finish"] {
            #expect(registry[type] != nil, "\(type)")
        }
        #expect(application.migrations.map(\.version) == Array(1...11))
        #expect(application.commands.compactMap { $0.configuration.commandName }.sorted() == ["anonymize", "claude", "email", "imports"])
    }

    @Test func anAppAddsItsOwnFamilyAndTheListIsChecked() throws {
        let app = try FerryApplication(families: JobCatalog.families + [Billing()])
        #expect(app.migrations.last?.name == "invoices")
        do {
            _ = try FerryApplication(families: [BuiltinFamily(), Billing()])
            Issue.record("a family was accepted without the family it requires")
        } catch {
            #expect(error.description.contains("billing needs the family accounts"))
        }
        do {
            _ = try FerryApplication(families: JobCatalog.families + [Billing(version: 8)])
            Issue.record("a migration version used twice was accepted")
        } catch {
            #expect(error.description == "migration version 8 is used by both imports/imports and billing/invoices; versions are global across families (Ferry's use 1 to 99, an app's own start at 100)")
        }
        #expect(throws: FerryApplication.Invalid.self) { try FerryApplication(families: [AccountsFamily(), AccountsFamily()]) }
        // A family whose handlers clash with another's is refused when the registry is built.
        #expect(throws: JobRegistry.RegistrationError.self) {
            try FerryApplication(families: [BuiltinFamily(), BuiltinAgain()]).registry(jobsDirectory: nil, testJobs: false)
        }
    }
}

private struct BuiltinAgain: JobFamily {
    let name = "ferry-again"
    func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try BuiltinFamily().register(in: &registry, testJobs: testJobs)
    }
}
