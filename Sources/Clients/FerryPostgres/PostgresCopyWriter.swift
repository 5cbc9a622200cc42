/// Writes rows into a running `COPY … FROM STDIN` (text format), buffering them into chunks.
///
/// Use ``writeRow(_:)`` with the default text format (`COPY t (a, b) FROM STDIN`), or
/// ``write(_:)`` to send raw bytes for other formats (CSV, binary).
public struct PostgresCopyWriter {
    private var buffer: [UInt8] = []
    private let send: ([UInt8]) throws(PostgresError) -> Void
    private let chunkSize = 64 * 1024

    init(send: @escaping ([UInt8]) throws(PostgresError) -> Void) {
        self.send = send
        buffer.reserveCapacity(chunkSize)
    }

    /// Appends one row; `nil` is NULL. Tabs, newlines and backslashes in values are escaped.
    public mutating func writeRow(_ values: [String?]) throws(PostgresError) {
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.append(0x09) }
            guard let value else {
                buffer.append(contentsOf: [0x5C, 0x4E])  // \N
                continue
            }
            for byte in value.utf8 {
                switch byte {
                case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
                case 0x09: buffer.append(contentsOf: [0x5C, 0x74])
                case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(0x0A)
        if buffer.count >= chunkSize { try flush() }
    }

    /// Appends raw bytes, sent as they are.
    public mutating func write(_ bytes: some Sequence<UInt8>) throws(PostgresError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= chunkSize { try flush() }
    }

    mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        try send(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
