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

    static let table: [UInt16] = (0..<256).map { value in
        let byte = UInt8(value)
        var flags: UInt16 = 0
        if (0x30...0x39).contains(byte) { flags |= digit | hex | domain | emailLocal | url }
        if (0x41...0x5A).contains(byte) { flags |= upper | domain | emailLocal | url }
        if (0x61...0x7A).contains(byte) { flags |= lower | domain | emailLocal | url }
        if byte >= 0x80 { flags |= high }
        if (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) { flags |= hex }
        let base58Alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
        if base58Alphabet.contains(byte) { flags |= base58 }
        if Array("._%+-".utf8).contains(byte) { flags |= emailLocal }
        if Array(".-".utf8).contains(byte) { flags |= domain }
        if Array("-._~:/?#[]@!$&'()*+,;=%".utf8).contains(byte) { flags |= url }
        if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { flags |= space }
        return flags
    }
}

extension UnsafeBufferPointer<UInt8> {
    @inline(__always) func has(_ index: Int, _ flags: UInt16) -> Bool {
        index >= 0 && index < count && ByteClass.table[Int(self[index])] & flags != 0
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
    func wordEnd(from index: Int) -> Int {
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
