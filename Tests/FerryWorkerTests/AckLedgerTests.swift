@testable import FerryWorker
import FerryQueue
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
        #expect(AckLedger.read(worker: worker).finished == ["a", "b", "c", "d", "e", "f", "g"])
        #expect(!ledger.isEmpty)
        ledger.clear(slot: 1)
        #expect(AckLedger.read(worker: worker).finished == ["a", "b", "c"])
        ledger.clear(slot: 0)
        ledger.clear(slot: 2)
        #expect(ledger.isEmpty)
        #expect(AckLedger.read(worker: worker).finished.isEmpty)
        ledger.remove()
        #expect(!FileManager.default.fileExists(atPath: AckLedger.path(worker: worker)))
    }

    @Test func jobsRunningTogetherAreReadBackUntilCleared() throws {
        let worker = "ledger-test-\(UUID().uuidString.prefix(8))"
        let ledger = try #require(AckLedger(worker: worker, slots: 3, entriesPerSlot: 4))
        defer { ledger.remove() }
        #expect(AckLedger.read(worker: worker).runningTogether.isEmpty)
        #expect(ledger.noteRunningTogether(slot: 2, ids: ["a", "b", "c"]))
        #expect(ledger.record(slot: 2, id: "a"))
        #expect(ledger.noteRunningTogether(slot: 0, ids: ["d"]))
        #expect(AckLedger.read(worker: worker) == DeadWorkerNotes(finished: ["a"], runningTogether: [0: ["d"], 2: ["a", "b", "c"]]))
        // Too many, or an id too long: nothing is noted for the slot (its jobs run one at a time).
        #expect(!ledger.noteRunningTogether(slot: 0, ids: ["1", "2", "3", "4", "5"]))
        #expect(!ledger.noteRunningTogether(slot: 1, ids: ["e", String(repeating: "x", count: 64)]))
        ledger.clear(slot: 2)  // finished notes and running notes are apart
        #expect(AckLedger.read(worker: worker) == DeadWorkerNotes(finished: [], runningTogether: [2: ["a", "b", "c"]]))
        ledger.clearRunningTogether(slot: 2)
        #expect(AckLedger.read(worker: worker) == DeadWorkerNotes())
    }
}
