public import ArgumentParser
import Foundation
import Synchronization

/// The `ferry` command — workers, scheduler, admin endpoint, enqueue and inspection — for an
/// app's job families. An app's executable is one call:
///
/// ```swift
/// import Ferry
/// import FerryJobs
///
/// FerryCommand.main(families: [BuiltinFamily(), EmailFamily(), BillingFamily()])
/// ```
public struct FerryCommand: ParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "ferry",
            abstract: "Ferry — reliable background jobs for server-side Swift, on Redis.",
            discussion: """
                Configuration comes from the environment: FERRY_REDIS_URL, DATABASE_URL, FERRY_NAMESPACE, \
                FERRY_ADMIN_ADDR, FERRY_ADMIN_TOKEN, SMTP_URL, ANTHROPIC_API_KEY, FERRY_LOG_LEVEL, FERRY_LOG_FORMAT. \
                See README.md.
                """,
            version: FerryVersion.current,
            subcommands: [
                Up.self, Worker.self, SchedulerCommand.self, Admin.self, Enqueue.self, JobCommand.self, BatchCommand.self, Stats.self,
                Dead.self, Jobs.self, Schedules.self, Queue.self, Migrate.self, Check.self,
            ] + FerryApplication.current.commands
        )
    }

    public init() {}

    /// Runs `ferry` with the arguments of the process, for `families`; exits when done. A list
    /// of families that cannot run together (a name twice, a missing requirement, one migration
    /// version used twice) is reported and the process exits with status 78 (EX_CONFIG).
    public static func main(families: [any JobFamily]) -> Never {
        do {
            FerryApplication.install(try FerryApplication(families: families))
        } catch {
            FileHandle.standardError.write(Data("ferry: \(error)\n".utf8))
            Foundation.exit(78)
        }
        main()
        Foundation.exit(0)
    }
}

extension FerryApplication {
    private static let installed = Mutex<FerryApplication?>(nil)

    /// The application ``FerryCommand/main(families:)`` runs (none until it is called: no family).
    public static var current: FerryApplication {
        installed.withLock { $0 } ?? FerryApplication(checked: [], migrations: [])
    }

    static func install(_ application: FerryApplication) {
        installed.withLock { $0 = application }
    }
}

/// The version `ferry --version` prints.
public enum FerryVersion {
    public static let current = "0.1.0"
}
