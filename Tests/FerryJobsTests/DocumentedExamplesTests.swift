@testable import FerryJobs
import FerryQueue
import FerryScheduler
import FerryWorker
import Foundation
import Testing

/// The documentation's data examples, read by the code that reads such files for real: a CSV in
/// Ferry's generic trade layout, a schedule, a rate limit and the job JSON of the wire format.
/// (ops/doc_examples.py runs the blocks that are programs and lists which test reads which block.)
@Suite struct DocumentedExamplesTests {
    /// The fenced blocks of `language` in `path` (relative to the package), in order.
    static func blocks(_ path: String, language: String) throws -> [String] {
        let text = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/" + path, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let lines = current {
                if line == "```" {
                    blocks.append(lines.joined(separator: "\n") + "\n")
                    current = nil
                } else {
                    current = lines + [line]
                }
            } else if line == "```\(language)" {
                current = []
            }
        }
        return blocks
    }

    @Test func theGenericTradeLayoutsSampleIsATrade() throws {
        let csv = try #require(Self.blocks("docs/jobs.md", language: "csv").first, "docs/jobs.md lost its CSV sample")
        let (profiles, refused) = ImportProfile.load(directory: FileManager.default.currentDirectoryPath + "/jobs/trades.import")
        #expect(refused.isEmpty)
        let bytes = Array(csv.utf8)
        let found = try #require(TradesImport.findHeader(bytes, wholeFile: true, profiles: profiles), "no shipped layout reads the sample")
        #expect(found.profile.name == "ferry")
        var parser = CSVParser(delimiter: found.profile.delimiter)
        var records: [CSVRecord] = []
        bytes.withUnsafeBytes { parser.feed($0, into: &records) }
        parser.finish(into: &records)
        #expect(records.count == 2)
        guard case .trade(let trade) = TradeRow.make(records[1], layout: found.layout, profile: found.profile) else {
            Issue.record("the sample row is not read as a trade: \(TradeRow.make(records[1], layout: found.layout, profile: found.profile))")
            return
        }
        #expect(trade.tradeID == "t-1001" && trade.symbol == "AAPL" && trade.side == "buy")
        #expect(trade.quantity == "10" && trade.entryPrice == "189.2" && trade.exitPrice == "191.05", "\(trade)")
        #expect(trade.pnl == "18.5" && trade.fees == "1" && trade.currency == "USD", "\(trade)")
        #expect(trade.openedAt == "2026-11-24 14:30:12" && trade.closedAt == "2026-11-24 19:02:40")
        #expect(trade.openedZone ?? found.profile.timeZone == "UTC")
    }

    @Test func theDocumentedScheduleIsValid() throws {
        let yaml = try #require(Self.blocks("docs/operations.md", language: "yaml").first, "docs/operations.md lost its schedule example")
        let (entries, errors) = ScheduleFile.parse(yaml: yaml, file: "docs/operations.md", knownTypes: ["stories.expire"])
        #expect(errors.isEmpty, "\(errors)")
        let entry = try #require(entries.first)
        #expect(entries.count == 1 && entry.name == "stories-expire" && entry.jobType == "stories.expire")
        #expect(entry.timeZoneName == "Europe/Berlin" && entry.queue == "maintenance" && entry.enabled)
        #expect(entry.args == ["batch_size": 1000] && entry.missed == .skip)
    }

    @Test func theDocumentedRateLimitIsValid() throws {
        let yaml = try #require(Self.blocks("docs/writing-jobs.md", language: "yaml").first, "docs/writing-jobs.md lost its rate example")
        var settings = JobSettings()
        try JobSettingsFile.apply(yaml: yaml, file: "jobs/claude.message.yml", to: &settings)
        let rate = try #require(settings.rate)
        #expect(rate.limit == 50 && rate.periodMS == 60_000 && rate.burst == 10 && rate.key == "model")
        #expect(rate.reserved == ["critical": 0.2])
    }

    @Test func theWireFormatsJobIsAJob() throws {
        let json = try #require(Self.blocks("docs/wire-format.md", language: "json").first, "docs/wire-format.md lost its job example")
        let job = try Job.decode(Array(json.utf8))
        #expect(job.type == "email.send" && job.queue == "mail" && job.attempt == 1 && job.maxAttempts == 10)
        #expect(job.args == ["to": "ada@example.com", "template": "welcome"])
        #expect(job.runAt == 1795519311 && job.uniqueKey == "welcome:42" && job.timeoutS == 30)
        #expect(job.error?.type == "SMTPError")
    }
}
