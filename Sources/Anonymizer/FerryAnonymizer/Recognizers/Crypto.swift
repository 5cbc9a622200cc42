import Crypto

/// `CRYPTO`: Bitcoin addresses — legacy and script addresses (`1…`, `3…`) with their
/// Base58Check checksum (double SHA-256), and SegWit/Taproot addresses (`bc1…`) with their
/// Bech32 or Bech32m checksum. What fails its checksum is not reported.
public struct CryptoRecognizer: Recognizer {
    public let name = "CryptoRecognizer"
    public let entities = [Entity.crypto]
    public let context = ["wallet", "btc", "bitcoin", "crypto", "address", "adresse", "krypto"]

    static let base58Values: [Int8] = {
        var values = [Int8](repeating: -1, count: 256)
        for (value, byte) in "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8.enumerated() { values[Int(byte)] = Int8(value) }
        return values
    }()

    static let bech32Values: [Int8] = {
        var values = [Int8](repeating: -1, count: 256)
        for (value, byte) in "qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8.enumerated() {
            values[Int(byte)] = Int8(value)
            values[Int(asciiUpper(byte))] = Int8(value)
        }
        return values
    }()

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "1") || byte == UInt8(ascii: "3") || byte | 0x20 == UInt8(ascii: "b"), text.boundaryBefore(index) else { index += 1; continue }
            let end = text.wordEnd(from: index)
            let length = end - index
            let valid: Bool
            if byte | 0x20 == UInt8(ascii: "b") {
                valid = (14...74).contains(length) && Self.bech32(text, index..<end)
            } else {
                valid = (25...34).contains(length) && Self.base58Check(text, index..<end)
            }
            if valid { findings.append(Finding(entityType: Entity.crypto, start: index, end: end, score: Score.validated, recognizer: name)) }
            index = max(end, index + 1)
        }
    }

    /// A 25-byte Base58Check payload with version 0 or 5 whose last four bytes are the first four
    /// of the double SHA-256 of the rest.
    static func base58Check(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var bytes = [UInt8](repeating: 0, count: 25)
        for index in range {
            let digit = base58Values[Int(text[index])]
            guard digit >= 0 else { return false }
            var carry = Int(digit)
            for position in stride(from: 24, through: 0, by: -1) {
                carry += 58 * Int(bytes[position])
                bytes[position] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            guard carry == 0 else { return false }
        }
        guard bytes[0] == 0 || bytes[0] == 5 else { return false }
        // Leading '1's stand for leading zero bytes: exactly one for version 0.
        let ones = text[range].prefix { $0 == UInt8(ascii: "1") }.count
        guard ones == bytes.prefix(while: { $0 == 0 }).count else { return false }
        let digest = Array(SHA256.hash(data: Array(SHA256.hash(data: bytes[0..<21]))))
        return digest[0..<4].elementsEqual(bytes[21..<25])
    }

    /// `bc1` + Bech32 data in one case with a Bech32 (witness v0) or Bech32m (v1+) checksum.
    static func bech32(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard text.matches(Array("bc1".utf8), at: range.lowerBound) else { return false }
        let data = range.lowerBound + 3..<range.upperBound
        let hasLower = text[range].contains { $0 &- 0x61 < 26 }, hasUpper = text[range].contains { $0 &- 0x41 < 26 }
        guard !(hasLower && hasUpper), data.count >= 7 else { return false }
        var values = [UInt8]()
        for index in data {
            let value = bech32Values[Int(text[index])]
            guard value >= 0 else { return false }
            values.append(UInt8(value))
        }
        let checksum = polymod([3, 3, 0, 2, 3] + values)  // "bc" expanded: high bits 3 3, separator 0, low bits 2 3
        return (values[0] == 0 && checksum == 1) || (values[0] > 0 && values[0] <= 16 && checksum == 0x2BC8_30A3)
    }

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generators: [UInt32] = [0x3B6A_57B2, 0x2650_8E6D, 0x1EA1_19FA, 0x3D42_33DD, 0x2A14_62B3]
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1FF_FFFF) << 5 ^ UInt32(value)
            for bit in 0..<5 where (top >> bit) & 1 == 1 { checksum ^= generators[bit] }
        }
        return checksum
    }
}

@inline(__always) func asciiUpper(_ byte: UInt8) -> UInt8 { byte &- 0x61 < 26 ? byte & ~0x20 : byte }
