@testable import FerryWorker
import FerryTestSupport
import Foundation
import Testing

/// The ledger of finished, unacknowledged jobs: what the supervisor reads back, and that a
/// damaged or foreign file it finds there gives it nothing rather than a trap.
@Suite struct AckLedgerTests {
    @Test func whatExecutorsNoteIsReadBackUntilCleared() throws {
        let worker = "ledger-test-\(UUID().uuidString.prefix(8))"
        let ledger = try #require(AckLedger(worker: worker, slots: 3, entriesPerSlot: 4))
        defer { ledger.remove() }
        #expect(ledger.record(slot: 0, id: "a"))
        #expect(ledger.record(slot: 2, id: "b"))
        #expect(ledger.record(slot: 2, id: "c"))
        #expect(!ledger.record(slot: 1, id: String(repeating: "x", count: 64)))  // too long to note
        for id in ["d", "e", "f"] { #expect(ledger.record(slot: 1, id: id)) }
        #expect(ledger.record(slot: 1, id: "g"))
        #expect(!ledger.record(slot: 1, id: "h"))  // full: acknowledged at once instead
        #expect(AckLedger.read(worker: worker) == ["a", "b", "c", "d", "e", "f", "g"])
        #expect(!ledger.isEmpty)
        ledger.clear(slot: 1)
        #expect(AckLedger.read(worker: worker) == ["a", "b", "c"])
        ledger.clear(slot: 0)
        ledger.clear(slot: 2)
        #expect(ledger.isEmpty)
        #expect(AckLedger.read(worker: worker).isEmpty)
        ledger.remove()
        #expect(!FileManager.default.fileExists(atPath: AckLedger.path(worker: worker)))
    }

    @Test func damagedFilesReadAsNothingOrAsWhatTheyHold() throws {
        let worker = "ledger-fuzz-\(UUID().uuidString.prefix(8))"
        let path = AckLedger.path(worker: worker)
        defer { AckLedger.discard(worker: worker) }
        let ledger = try #require(AckLedger(worker: worker, slots: 2, entriesPerSlot: 8))
        for index in 0..<8 { _ = ledger.record(slot: index % 2, id: "job-\(index)") }
        let good = try #require(FileManager.default.contents(atPath: path))
        ledger.remove()
        var generator = SeededGenerator(seed: 7)
        for round in 0..<2000 {
            var bytes = [UInt8](good)
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))  // torn
            case 1: for _ in 0..<8 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            default: bytes = (0..<Int.random(in: 0...512, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            // No trap, and never more ids than a ledger of that size could hold.
            #expect(AckLedger.read(worker: worker).count <= bytes.count / AckLedger.entrySize)
        }
    }
}
