import ArgumentParser
import Ferry
import FerryPostgres
import FerrySupport
import Foundation

/// `ferry claude usage`: tokens and cost of the Claude jobs' calls.
struct ClaudeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claude",
        abstract: "Report what the Claude jobs (claude.message, claude.batch) spent.",
        subcommands: [Usage.self, Calls.self]
    )

    struct Calls: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The newest calls with their tokens, cost and answers, as JSON (needs DATABASE_URL)."
        )

        @Option(help: "Only the calls of this ref (a claude.message's ref, or a claude.batch request's).")
        var ref: String?

        @Option(help: "Only the results of this message batch.")
        var batch: String?

        @Option(help: "Most calls to show (1 to 1000).")
        var limit = 50

        func run() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(try ClaudeCalls.records(ref: ref, batchID: batch, limit: limit, on: try FerryEnvironment.database())), as: UTF8.self))
        }
    }

    struct Usage: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Calls, tokens and cost (USD) per model or per day, as JSON (needs DATABASE_URL)."
        )

        @Option(help: "Count calls made on or after this day (YYYY-MM-DD, UTC) or time (ISO 8601). Default: 30 days ago.")
        var since: String?

        @Option(help: "Group by model or day.")
        var by: String = "model"

        func run() throws {
            guard let grouping = ClaudeCalls.Grouping(rawValue: by) else { throw ValidationError("--by must be model or day") }
            let start = try since.map(Self.date) ?? Date().addingTimeInterval(-30 * 86_400)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(try ClaudeCalls.usage(since: start, by: grouping, on: try FerryEnvironment.database())), as: UTF8.self))
        }

        /// `2026-11-01` (midnight UTC) or a full ISO 8601 time.
        static func date(_ text: String) throws -> Date {
            if let date = Timestamp.parse(text) { return date }
            throw ValidationError("--since must be a day like 2026-11-01 or a time like 2026-11-01T08:00:00Z, got '\(text.prefix(40))'")
        }
    }
}
