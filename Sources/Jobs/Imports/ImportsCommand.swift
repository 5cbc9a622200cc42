import ArgumentParser
import Ferry
import FerryPostgres
import Foundation

/// `ferry imports [ID]`: trade imports with their counts, or one with its refused rows.
struct ImportsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imports",
        abstract: "List trade imports (trades.import), or show one with its refused rows, as JSON."
    )

    @Argument(help: "An import's id: show it and its first refused rows.")
    var id: Int64?

    @Option(help: "Most imports to list, or refused rows to show.")
    var limit = 50

    func run() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000") }
        let db = try FerryEnvironment.database()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        guard let id else {
            print(String(decoding: try encoder.encode(try ImportRecords.imports(limit: limit, on: db)), as: UTF8.self))
            return
        }
        guard let found = try ImportRecords.detail(id: id, limit: limit, on: db) else { throw ValidationError("no import \(id)") }
        print(String(decoding: try encoder.encode(found), as: UTF8.self))
    }
}
