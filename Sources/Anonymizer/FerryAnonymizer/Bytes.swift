/// Byte classes for the scanners: one table lookup a byte, no `Character` or `String` on the
/// scanning path. Bytes of 0x80 and above (UTF-8 beyond ASCII: ä, ß, é …) count as letters, so
/// words and word boundaries hold for German and other Latin text.
enum ByteClass {
    static let digit: UInt16 = 1 << 0
    static let upper: UInt16 = 1 << 1
    static let lower: UInt16 = 1 << 2
    static let high: UInt16 = 1 << 3
    static let hex: UInt16 = 1 << 4
    static let base58: UInt16 = 1 << 5
    static let emailLocal: UInt16 = 1 << 6
    static let domain: UInt16 = 1 << 7
    static let url: UInt16 = 1 << 8
    static let space: UInt16 = 1 << 9

    /// The classes of `byte`. A switch over constants, which the compiler turns into a table in
    /// read-only data: no lazily initialized global to check on every byte.
    @inline(__always) static func of(_ byte: UInt8) -> UInt16 {
        let word = domain | emailLocal | url
        switch byte {
        case 0x30: return digit | hex | word
        case 0x31...0x39: return digit | hex | base58 | word
        case 0x41...0x46: return upper | hex | base58 | word
        case 0x49, 0x4F: return upper | word                       // I, O: not in Base58
        case 0x47...0x5A: return upper | base58 | word
        case 0x61...0x66: return lower | hex | base58 | word
        case 0x6C: return lower | word                             // l: not in Base58
        case 0x67...0x7A: return lower | base58 | word
        case 0x2E, 0x2D: return domain | emailLocal | url          // . -
        case 0x5F, 0x25, 0x2B: return emailLocal | url             // _ % +
        case 0x7E, 0x3A, 0x2F, 0x3F, 0x23, 0x5B, 0x5D, 0x40, 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2C, 0x3B, 0x3D: return url
        case 0x20, 0x09, 0x0A, 0x0D: return space
        case 0x80...0xFF: return high
        default: return 0
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    @inline(__always) func has(_ index: Int, _ flags: UInt16) -> Bool {
        index >= 0 && index < count && ByteClass.of(self[index]) & flags != 0
    }

    @inline(__always) func isDigit(_ index: Int) -> Bool { index >= 0 && index < count && self[index] &- 0x30 < 10 }

    /// A letter, digit or non-ASCII byte: part of a word.
    @inline(__always) func isWord(_ index: Int) -> Bool {
        has(index, ByteClass.digit | ByteClass.upper | ByteClass.lower | ByteClass.high)
    }

    @inline(__always) func isLetter(_ index: Int) -> Bool {
        has(index, ByteClass.upper | ByteClass.lower | ByteClass.high)
    }

    /// Whether a match may start at `index`: no word byte just before it.
    @inline(__always) func boundaryBefore(_ index: Int) -> Bool { !isWord(index - 1) }

    /// Whether a match may end at `index` (exclusive): no word byte at it.
    @inline(__always) func boundaryAfter(_ index: Int) -> Bool { !isWord(index) }

    /// Whether the bytes at `index` are `word`, ASCII letters compared without case.
    func matches(_ word: [UInt8], at index: Int) -> Bool {
        guard index >= 0, index + word.count <= count else { return false }
        for offset in 0..<word.count where asciiLower(self[index + offset]) != word[offset] { return false }
        return true
    }

    /// The end of the word starting at `index`.
    @inline(__always) func wordEnd(from index: Int) -> Int {
        var end = index
        while isWord(end) { end += 1 }
        return end
    }
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

/// A word lowercased (ASCII letters and the German capitals Ä, Ö, Ü), for dictionary lookups.
func lowercasedWord(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [UInt8] {
    var word = [UInt8]()
    word.reserveCapacity(range.count)
    var index = range.lowerBound
    while index < range.upperBound {
        let byte = bytes[index]
        // Ä Ö Ü are C3 84 / C3 96 / C3 9C; ä ö ü are C3 A4 / C3 B6 / C3 BC.
        if byte == 0xC3, index + 1 < range.upperBound, [0x84, 0x96, 0x9C].contains(bytes[index + 1]) {
            word.append(0xC3)
            word.append(bytes[index + 1] | 0x20)
            index += 2
            continue
        }
        word.append(asciiLower(byte))
        index += 1
    }
    return word
}

/// Lowercases like ``lowercasedWord(_:_:)``, one byte at a time: ASCII letters, and the second
/// byte of Ä, Ö, Ü (C3 84/96/9C) when it follows C3.
@inline(__always) func foldedByte(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, from start: Int) -> UInt8 {
    let byte = bytes[index]
    if byte == 0x84 || byte == 0x96 || byte == 0x9C, index > start, bytes[index - 1] == 0xC3 { return byte | 0x20 }
    return asciiLower(byte)
}

/// A set of words (lowercased) with a value each, looked up straight from the text: FNV-1a over
/// the folded bytes and open addressing, so a lookup allocates nothing and hashes no `Array`.
struct WordTable: Sendable {
    private var slots: [Int32]
    private var words: [[UInt8]] = []
    private var values: [Int32] = []
    private let mask: Int

    init(_ entries: [(String, Int32)]) {
        var size = 16
        while size < entries.count * 3 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (word, value) in entries {
            let bytes = Array(word.utf8)
            let folded = bytes.withUnsafeBufferPointer { lowercasedWord($0, 0..<bytes.count) }
            if folded.withUnsafeBufferPointer({ find($0, 0..<folded.count) }) != nil { continue }
            var slot = Self.hash(folded) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(words.count)
            words.append(folded)
            values.append(value)
        }
    }

    init(words list: some Sequence<String>) { self.init(list.map { ($0, 1) }) }

    static func hash(_ folded: [UInt8]) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in folded { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    /// The value of the word at `range` of `text`, compared without case; nil if absent.
    func find(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int32? {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in range { hash = (hash ^ UInt64(foldedByte(text, index, from: range.lowerBound))) &* 0x100_0000_01B3 }
        var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            let word = words[entry]
            if word.count == range.count {
                var equal = true
                for offset in 0..<word.count where foldedByte(text, range.lowerBound + offset, from: range.lowerBound) != word[offset] {
                    equal = false
                    break
                }
                if equal { return values[entry] }
            }
            slot = (slot + 1) & mask
        }
    }

    func contains(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool { find(text, range) != nil }
}
