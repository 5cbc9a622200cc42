import ArgumentParser
import FerryAnonymizer
import Ferry
import FerryPostgres
import Foundation

/// `ferry anonymize`: spot checks on standard input, and the runs of `anonymize.batch`.
struct AnonymizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anonymize",
        abstract: "Anonymize text from standard input, or list anonymize.batch runs.",
        discussion: """
            Each line of standard input is anonymized on its own and written to standard output, with the \
            configuration of jobs/anonymize.batch.yml (parameters.config, Presidio's shape) or --config. \
            Keys of hash and encrypt come from FERRY_ANONYMIZE_HASH_KEY and FERRY_ANONYMIZE_AES_KEY (or the \
            variables their key_env names). Batch runs over tables and files: ferry enqueue anonymize.batch --args '{…}'.
            """,
        subcommands: [Text.self, Runs.self],
        defaultSubcommand: Text.self
    )

    struct Text: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Anonymize each line of standard input (the default).")

        @Option(help: "A configuration file, JSON in Presidio's shape (default: parameters.config of jobs/anonymize.batch.yml).")
        var config: String?

        @Option(help: "The job settings directory.")
        var jobsDir = "jobs"

        @Flag(help: "Write each line as JSON: the text and Presidio's items (entity_type, start, end, operator, score, text).")
        var json = false

        @Flag(help: "Only find: write each line's findings as JSON (entity_type, start, end in characters, score, recognizer).")
        var analyze = false

        @Flag(help: "Restore: read lines written by --json and decrypt the items made by encrypt.")
        var decrypt = false

        func validate() throws {
            guard [json, analyze, decrypt].filter({ $0 }).count <= 1 else { throw ValidationError("--json, --analyze and --decrypt exclude each other") }
        }

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if decrypt {
                try each { line in try Self.restore(line, environment: environment, encoder: encoder) }
                return
            }
            var configJSON: String?
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else { throw CommandFailure("cannot read \(config)") }
                configJSON = String(decoding: data, as: UTF8.self)
            }
            let settings = try FerryEnvironment().registry(jobsDirectory: jobsDir).entries[AnonymizeBatch.type]?.settings
            let anonymizer: Anonymizer
            do {
                anonymizer = try AnonymizeBatch.anonymizer(json: configJSON, settings: settings, environment: environment, analyzing: analyze)
            } catch {
                throw CommandFailure("\(error)")
            }
            try each { line in
                if analyze {
                    let findings = AnalyzedText(line, anonymizer.analyze(line))
                    return String(decoding: try encoder.encode(findings.items), as: UTF8.self)
                }
                let result = anonymizer.anonymize(line)
                return json ? String(decoding: try encoder.encode(result), as: UTF8.self) : result.text
            }
        }

        /// Calls `transform` on each line of standard input (bytes that are not UTF-8 replaced by U+FFFD) and prints what it returns.
        func each(_ transform: (String) throws -> String) throws {
            let output = FileHandle.standardOutput
            var buffer = [UInt8]()
            buffer.reserveCapacity(1 << 16)
            func flush(_ final: Bool) throws {
                var lines = buffer.split(separator: 0x0A, omittingEmptySubsequences: false)
                let rest = final ? [] : Array(lines.removeLast())
                var text = ""
                for line in lines {
                    text += try transform(String(decoding: line.last == 0x0D ? line.dropLast() : line[...], as: UTF8.self))
                    text += "\n"
                }
                output.write(Data(text.utf8))
                buffer = rest
            }
            while let chunk = try FileHandle.standardInput.read(upToCount: 1 << 16), !chunk.isEmpty {
                buffer.append(contentsOf: chunk)
                if buffer.contains(0x0A) { try flush(false) }
            }
            if !buffer.isEmpty { try flush(true) }
        }

        static func restore(_ line: String, environment: [String: String], encoder: JSONEncoder) throws -> String {
            guard let result = try? JSONDecoder().decode(AnonymizedText.self, from: Data(line.utf8)) else {
                throw ValidationError("--decrypt reads lines written by ferry anonymize --json; this one is not: \(line.prefix(80))")
            }
            var characters = Array(result.text)
            for item in result.items.sorted(by: { $0.start > $1.start }) where item.operator == "encrypt" {
                guard item.start >= 0, item.start <= item.end, item.end <= characters.count else { throw ValidationError("an item's span lies outside its text") }
                let plain = try Operator.decrypt(String(characters[item.start..<item.end]), environment: environment)
                characters.replaceSubrange(item.start..<item.end, with: Array(plain))
            }
            return String(characters)
        }
    }

    struct Runs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "anonymize.batch runs with their reports, newest first, as JSON (needs DATABASE_URL).")

        @Argument(help: "A run's id: show its report.")
        var id: Int64?

        @Option(help: "Most runs to list (1 to 1000).")
        var limit = 20

        func run() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            let db = try FerryEnvironment.database()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            encoder.dateEncodingStrategy = .iso8601
            if let id {
                print(String(decoding: try encoder.encode(try AnonymizeRuns.report(run: id, db: db)), as: UTF8.self))
            } else {
                print(String(decoding: try encoder.encode(try AnonymizeRuns.recent(limit: limit, db: db)), as: UTF8.self))
            }
        }
    }
}
