import FerryQueue
import Foundation

/// The jobs a worker process has finished but not yet acknowledged in Redis, in memory that its
/// supervisor can read after it dies.
///
/// Executors acknowledge quick jobs a batch at a time (one write for many jobs instead of one
/// each). Until that write, a finished job is still in its job thread's in-flight list, where a
/// crash would make it look unfinished — and, being rightmost, like the job that was running. So
/// each job thread first notes the job's id here: a memory-mapped file (in `/dev/shm`) whose
/// stores cost nothing like a system call and survive the process. The supervisor reads it
/// when the process exits and recovery removes those jobs as done (``WorkerRegistry/recover``),
/// so the running job is again the rightmost and nothing finished runs twice. Only if the
/// supervisor dies too (the host is lost) are these few jobs run again, as on any at-least-once
/// queue.
///
/// A job thread running several async attempts at once also notes their ids while they run:
/// then each of them was running when the process died, not only the rightmost job of its list,
/// and recovery makes suspects of exactly those (to be run alone).
///
/// Layout: a header (magic, slots, entries per slot), then per slot the count of finished ids,
/// the count of ids running together, and two arrays of fixed 64-byte entries (a length byte and
/// up to 63 bytes of job id): finished, then running. One job thread writes one slot.
final class AckLedger: @unchecked Sendable {
    // @unchecked Sendable: slot `i` is written only by job thread `i`; nothing reads the mapping
    // while the process lives (the supervisor reads the file after it has exited).
    static let entrySize = 64
    static let headerSize = 64
    private static let magic: UInt32 = 0x3243_4146  // "FAC2"

    let path: String
    let slots: Int
    let entriesPerSlot: Int
    private let base: UnsafeMutableRawPointer
    private let size: Int

    /// Where the ledger of `worker` lives: `/dev/shm` (memory) when there is one.
    static func path(worker: String) -> String {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        let name = String(worker.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        return (directory as NSString).appendingPathComponent("ferry-acks-\(name)")
    }

    private static func slotSize(entries: Int) -> Int { 64 + 2 * entries * entrySize }

    /// Creates the ledger file of `worker` (private to its user), or nil when it cannot: then
    /// job threads acknowledge every job on its own.
    init?(worker: String, slots: Int, entriesPerSlot: Int) {
        let path = Self.path(worker: worker)
        let size = Self.headerSize + slots * Self.slotSize(entries: entriesPerSlot)
        // Not through a symbolic link someone else left in the shared directory.
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0,
              let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            unlink(path)
            return nil
        }
        self.path = path
        self.slots = slots
        self.entriesPerSlot = entriesPerSlot
        self.base = mapped
        self.size = size
        base.storeBytes(of: UInt32(slots), toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: UInt32(entriesPerSlot), toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: Self.magic, toByteOffset: 0, as: UInt32.self)
    }

    deinit {
        munmap(base, size)
    }

    private func slotBase(_ slot: Int) -> UnsafeMutableRawPointer {
        base + Self.headerSize + slot * Self.slotSize(entries: entriesPerSlot)
    }

    /// Notes that job thread `slot` finished job `id`; false when the slot is full or the id too
    /// long to note (then the job must be acknowledged at once).
    func record(slot: Int, id: String) -> Bool {
        let slotBase = slotBase(slot)
        let count = Int(slotBase.load(as: UInt32.self))
        guard count < entriesPerSlot, Self.store(id, at: slotBase + 64 + count * Self.entrySize) else { return false }
        slotBase.storeBytes(of: UInt32(count + 1), as: UInt32.self)
        return true
    }

    /// Notes that job thread `slot` is running the jobs `ids` at once (replacing what it noted
    /// before); false when they do not fit (then they must run one at a time).
    func noteRunningTogether(slot: Int, ids: [String]) -> Bool {
        let slotBase = slotBase(slot)
        let running = slotBase + 64 + entriesPerSlot * Self.entrySize
        slotBase.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
        guard ids.count <= entriesPerSlot else { return false }
        for (index, id) in ids.enumerated() where !Self.store(id, at: running + index * Self.entrySize) { return false }
        slotBase.storeBytes(of: UInt32(ids.count), toByteOffset: 4, as: UInt32.self)
        return true
    }

    /// Forgets the jobs job thread `slot` was running together: none runs any more.
    func clearRunningTogether(slot: Int) {
        slotBase(slot).storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
    }

    /// Writes `id` as one entry; false when it is too long for one.
    private static func store(_ id: String, at entry: UnsafeMutableRawPointer) -> Bool {
        var id = id
        return id.withUTF8 { bytes in
            guard bytes.count < entrySize, let source = bytes.baseAddress else { return false }
            (entry + 1).copyMemory(from: source, byteCount: bytes.count)
            entry.storeBytes(of: UInt8(bytes.count), as: UInt8.self)
            return true
        }
    }

    /// Forgets job thread `slot`'s notes: their acknowledgements have been written.
    func clear(slot: Int) {
        slotBase(slot).storeBytes(of: UInt32(0), as: UInt32.self)
    }

    /// Whether no slot holds a note (every acknowledgement was written).
    var isEmpty: Bool {
        (0..<slots).allSatisfy { slotBase($0).load(as: UInt32.self) == 0 }
    }

    /// Deletes the file (a clean exit: everything was acknowledged or put back).
    func remove() {
        unlink(path)
    }

    /// What the ledger that `worker` left behind notes; empty when there is none or it is not one
    /// (a torn entry names no job and matches nothing).
    static func read(worker: String) -> DeadWorkerNotes {
        guard let data = FileManager.default.contents(atPath: path(worker: worker)), data.count >= headerSize else { return DeadWorkerNotes() }
        return data.withUnsafeBytes { raw -> DeadWorkerNotes in
            guard raw.load(fromByteOffset: 0, as: UInt32.self) == magic else { return DeadWorkerNotes() }
            let slots = Int(raw.load(fromByteOffset: 4, as: UInt32.self))
            let entries = Int(raw.load(fromByteOffset: 8, as: UInt32.self))
            guard slots <= 100_000, entries <= 100_000, headerSize + slots * slotSize(entries: entries) <= raw.count else { return DeadWorkerNotes() }
            var left = DeadWorkerNotes()
            func ids(at start: Int, count: Int) -> Set<String> {
                var ids = Set<String>()
                for index in 0..<min(count, entries) {
                    let entry = start + index * entrySize
                    let length = Int(raw[entry])
                    guard length > 0, length < entrySize else { continue }
                    ids.insert(String(decoding: raw[(entry + 1)..<(entry + 1 + length)], as: UTF8.self))
                }
                return ids
            }
            for slot in 0..<slots {
                let start = headerSize + slot * slotSize(entries: entries)
                left.finished.formUnion(ids(at: start + 64, count: Int(raw.load(fromByteOffset: start, as: UInt32.self))))
                let running = ids(at: start + 64 + entries * entrySize, count: Int(raw.load(fromByteOffset: start + 4, as: UInt32.self)))
                if !running.isEmpty { left.runningTogether[slot] = running }
            }
            return left
        }
    }

    /// Deletes the ledger `worker` left behind, once recovery has used it.
    static func discard(worker: String) {
        unlink(path(worker: worker))
    }
}
