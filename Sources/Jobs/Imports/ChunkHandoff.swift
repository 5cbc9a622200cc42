import Foundation

/// Hands chunks from one producer thread to one consumer, holding at most `capacity` waiting:
/// the import parses the next chunk while PostgreSQL stores the last one, in bounded memory.
///
/// Either side can end it: the producer with ``finish(throwing:)`` (its error reaches the
/// consumer's ``take()``), the consumer with ``cancel()`` (the producer's ``put(_:)`` returns
/// false and it stops).
final class ChunkHandoff<Element: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: every stored property is read and written under `condition`.
    private let condition = NSCondition()
    private var waiting: [Element] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Blocks while `capacity` elements wait; false once the consumer has cancelled.
    func put(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while waiting.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        waiting.append(element)
        condition.broadcast()
        return true
    }

    /// No more elements; `error`, when given, is thrown by the consumer's next ``take()`` once
    /// the elements before it are taken.
    func finish(throwing error: (any Error)? = nil) {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        failure = error
        condition.broadcast()
    }

    /// The next element, blocking until there is one; nil once the producer has finished.
    func take() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && !finished { condition.wait() }
        if !waiting.isEmpty {
            let element = waiting.removeFirst()
            condition.broadcast()
            return element
        }
        if let failure { throw failure }
        return nil
    }

    /// Whether the consumer has given up.
    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// The consumer gives up: waiting elements are dropped and the producer is told to stop.
    func cancel() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        waiting.removeAll()
        condition.broadcast()
    }
}

/// Accepted and refused rows up to a place in the file, to be stored in one transaction.
struct ParsedChunk: Sendable {
    var rows: [TradeRow]
    var rejections: [TradeRow.Rejection]
    /// Records the profile's rules say are not trades.
    var skipped: Int
    /// Where the chunk's last record ends (the checkpoint), and its last line.
    var offset: Int64
    var line: Int
}

/// The producer side of an import: streams the source from `start`, parses and validates records,
/// and hands them on in chunks of ``TradesImport/chunkRows``; the last chunk (maybe empty) ends
/// at the end of the source.
struct ChunkParser: Sendable {
    let source: any ImportSource
    let profile: ImportProfile
    let layout: ImportProfile.Layout
    let start: Int64
    let startLine: Int
    let chunks: ChunkHandoff<ParsedChunk>

    /// The consumer gave up; the producer stops quietly.
    struct Stopped: Error {}

    func run() {
        do {
            try parseAll()
            chunks.finish()
        } catch is Stopped {
            chunks.finish()
        } catch {
            chunks.finish(throwing: error)
        }
    }

    private func parseAll() throws {
        var chunk = ParsedChunk(rows: [], rejections: [], skipped: 0, offset: start, line: startLine - 1)
        chunk.rows.reserveCapacity(TradesImport.chunkRows)
        func hand() throws {
            guard chunks.put(chunk) else { throw Stopped() }
            chunk.rows = []
            chunk.rows.reserveCapacity(TradesImport.chunkRows)
            chunk.rejections = []
            chunk.skipped = 0
        }
        func take(_ record: CSVRecord) throws {
            switch TradeRow.make(record, layout: layout, profile: profile) {
            case .trade(let row): chunk.rows.append(row)
            case .rejected(let rejection): chunk.rejections.append(rejection)
            case .skipped: chunk.skipped += 1
            }
            chunk.offset = record.endOffset
            chunk.line = record.nextLine - 1
            if chunk.rows.count + chunk.rejections.count + chunk.skipped >= TradesImport.chunkRows { try hand() }
        }
        // One byte before the start is read too: a record that ended in CR may be followed by LF.
        var parser = CSVParser(delimiter: profile.delimiter, offset: start, line: startLine)
        var firstByteAhead = start > 0
        var records: [CSVRecord] = []
        var end = start
        try source.stream(from: max(0, start - 1)) { block in
            if chunks.isCancelled { throw Stopped() }
            var block = block
            if firstByteAhead {
                firstByteAhead = false
                parser = CSVParser(delimiter: profile.delimiter, offset: start, line: startLine, afterCarriageReturn: block.first == 0x0D)
                block = UnsafeRawBufferPointer(rebasing: block.dropFirst())
            }
            end += Int64(block.count)
            parser.feed(block, into: &records)
            for record in records { try take(record) }
            records.removeAll(keepingCapacity: true)
        }
        parser.finish(into: &records)
        for record in records { try take(record) }
        chunk.offset = end
        try hand()
    }
}
