import Ferry
import FerryJobs
import FerryPostgres
import FerryScheduler
import FerryWorker
import Foundation
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

private struct Heartbeats: JobFamily {
    let name = "heartbeats"
    func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {}
    var schedules: String { "smoke-heartbeat:\n  cron: \"* * * * *\"\n  job: ferry.noop\n" }
}

/// Families bring their cron entries; the schedules folder is laid over them by name.
@Suite struct FamilySchedulesTests {
    let application: FerryApplication
    let types: Set<String>

    init() throws {
        application = try FerryApplication(families: JobCatalog.families)
        types = Set(try application.registry(jobsDirectory: nil, testJobs: false).types)
    }

    @Test func ferrysFamiliesBringTheirEntriesAndAFolderReplacesOrAddsByName() throws {
        let none = NSTemporaryDirectory() + "no-schedules-\(UUID().uuidString.prefix(6))"
        let defaults = try application.schedules(directory: none, knownTypes: types)
        #expect(Set(defaults.map(\.name)) == ["stories-expire", "mining-rewards", "analytics-rollup", "notifications-digest", "smoke-heartbeat"])
        #expect(defaults.allSatisfy { $0.enabled })
        let folder = NSTemporaryDirectory() + "schedules-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try """
            stories-expire:
              cron: "*/5 * * * *"
              job: stories.expire
              enabled: false
            extra-noop:
              cron: "@hourly"
              job: ferry.noop
            """.write(toFile: folder + "/site.yml", atomically: true, encoding: .utf8)
        let merged = try application.schedules(directory: folder, knownTypes: types)
        #expect(merged.count == 6)
        #expect(merged.first { $0.name == "stories-expire" }?.enabled == false)
        #expect(merged.first { $0.name == "stories-expire" }?.file == folder + "/site.yml")
        #expect(merged.contains { $0.name == "extra-noop" })
    }

    @Test func twoFamiliesWithOneEntryNameAreRefusedAndTheDocumentedExampleParses() throws {
        let clash = try FerryApplication(families: [BuiltinFamily(), Heartbeats()])
        do {
            _ = try clash.schedules(directory: "/nonexistent", knownTypes: ["ferry.noop"])
            Issue.record("two families' entries of one name were accepted")
        } catch {
            #expect(error.description.contains("entry 'smoke-heartbeat': the name is already used in the ferry family's default schedules"), "\(error)")
        }
        let readme = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/schedules/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n"))
        let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
        let (entries, errors) = ScheduleFile.parse(yaml: String(readme[start.upperBound..<end.lowerBound]), file: "schedules/README.md", knownTypes: types.union(["report.build"]))
        #expect(errors.isEmpty, "\(errors)")
        #expect(entries.map(\.name).sorted() == ["smoke-heartbeat", "stories-expire", "weekly-report"])
    }
}
