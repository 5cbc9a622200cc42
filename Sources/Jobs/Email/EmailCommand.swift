import ArgumentParser
import Ferry
import FerryPostgres
import Foundation

/// `ferry email …`: the suppression list of `email.send`.
struct EmailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "email",
        abstract: "Show or lift email suppressions (addresses a relay refused for good).",
        subcommands: [Suppressions.self, Unsuppress.self]
    )

    struct Suppressions: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List suppressed addresses with the relay's reply, newest first.")

        @Option(help: "Most addresses to list.")
        var limit = 100

        func run() throws {
            guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 100000") }
            let suppressions = try EmailDeliveries.suppressions(limit: limit, on: try FerryEnvironment.database())
            if suppressions.isEmpty { print("no suppressed addresses") }
            for suppression in suppressions {
                print("\(suppression.address)  since \(suppression.since.formatted(.iso8601))  \(suppression.reason)")
            }
        }
    }

    struct Unsuppress: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift the suppression of an address: mail to it is sent again.")

        @Argument(help: "The address.")
        var address: String

        func run() throws {
            guard try EmailDeliveries.lift(address, on: try FerryEnvironment.database()) else {
                throw ValidationError("\(address) is not suppressed")
            }
            print("lifted the suppression of \(address)")
        }
    }
}
