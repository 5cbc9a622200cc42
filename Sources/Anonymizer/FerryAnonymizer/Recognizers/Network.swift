#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `IP_ADDRESS`: dotted IPv4 (four octets of at most 255, no leading zeros) and IPv6 in any of
/// its written forms (checked by `inet_pton`, `::` included), with a zone (`fe80::1%eth0`) and a
/// CIDR prefix length (`/24`, `/64`) when written. Four numbers after "version", "v." or "build"
/// are a version number, not an address; so are five or more dotted numbers of one digit each
/// (`1.2.3.4.5`), while `192.168.1.1.1` holds the address `192.168.1.1` (as in Presidio).
public struct IPRecognizer: Recognizer {
    public let name = "IpRecognizer"
    public let entities = [Entity.ip]
    public let context = ["ip", "ipv4", "ipv6", "address", "adresse", "server", "host"]

    static let versionWords = WordTable(words: ["version", "ver", "v", "build", "release", "firmware", "update", "os"])

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte &- 0x30 < 10, text.boundaryBefore(index), index == 0 || text[index - 1] != UInt8(ascii: ".") {
                if var end = Self.ipv4End(text, from: index) {
                    end = Self.prefixLengthEnd(text, end, maximum: 32)
                    if !Self.followsVersionWord(text, index) {
                        findings.append(Finding(entityType: Entity.ip, start: index, end: end, score: 0.6, recognizer: name))
                    }
                    index = end
                    continue
                }
            }
            if text.has(index, ByteClass.hex) || byte == UInt8(ascii: ":"), !text.isWord(index - 1), index == 0 || text[index - 1] != UInt8(ascii: ":") {
                var end = index
                var colons = 0
                while end < text.count, text.has(end, ByteClass.hex) || text[end] == UInt8(ascii: ":") || text[end] == UInt8(ascii: ".") {
                    if text[end] == UInt8(ascii: ":") { colons += 1 }
                    end += 1
                }
                if colons >= 2 {
                    while end > index, text[end - 1] == UInt8(ascii: ".") || (text[end - 1] == UInt8(ascii: ":") && !(end - 2 >= index && text[end - 2] == UInt8(ascii: ":"))) { end -= 1 }
                    if !text.isWord(end), Self.isIPv6(text, index..<end) {
                        end = Self.prefixLengthEnd(text, Self.zoneEnd(text, end), maximum: 128)
                        findings.append(Finding(entityType: Entity.ip, start: index, end: end, score: 0.6, recognizer: name))
                        index = end
                        continue
                    }
                }
                index = max(index + 1, min(end, text.wordEnd(from: index)))
                continue
            }
            index += 1
        }
    }

    /// The end of a dotted quad starting at `start`, or nil.
    static func ipv4End(_ text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        for part in 0..<4 {
            var value = 0
            let first = index
            while index < text.count, text[index] &- 0x30 < 10, index - first < 3 {
                value = value * 10 + Int(text[index] &- 0x30)
                index += 1
            }
            let digits = index - first
            guard digits > 0, value <= 255, !(digits > 1 && text[first] == UInt8(ascii: "0")), !text.isDigit(index) else { return nil }
            if part < 3 {
                guard index < text.count, text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
        }
        if text.isWord(index) { return nil }
        // A longer dotted number: a version (1.2.3.4.5) when every part has one digit.
        if index + 1 < text.count, text[index] == UInt8(ascii: "."), text.isDigit(index + 1), index - start == 7 { return nil }
        return index
    }

    /// After an address ending at `end`: the end of a CIDR prefix length (`/24`) of at most
    /// `maximum`, or `end` when none is written.
    static func prefixLengthEnd(_ text: UnsafeBufferPointer<UInt8>, _ end: Int, maximum: Int) -> Int {
        guard end < text.count, text[end] == UInt8(ascii: "/"), text.isDigit(end + 1) else { return end }
        var value = 0, index = end + 1
        while text.isDigit(index), index - end <= 3 {
            value = value * 10 + Int(text[index] &- 0x30)
            index += 1
        }
        guard value <= maximum, !text.isWord(index), !(index - end > 2 && text[end + 1] == UInt8(ascii: "0")) else { return end }
        return index
    }

    /// After an IPv6 address ending at `end`: the end of its zone (`%eth0`, `%25`), or `end`.
    static func zoneEnd(_ text: UnsafeBufferPointer<UInt8>, _ end: Int) -> Int {
        guard end < text.count, text[end] == UInt8(ascii: "%") else { return end }
        var index = end + 1
        while index < text.count, text.isWord(index) && text[index] < 0x80 || text[index] == UInt8(ascii: ".") || text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "~") {
            index += 1
        }
        while index > end + 1, text[index - 1] == UInt8(ascii: ".") { index -= 1 }
        return index > end + 1 ? index : end
    }

    static func followsVersionWord(_ text: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        var index = start - 1
        while index >= 0, text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: ".") || text[index] == UInt8(ascii: ":") { index -= 1 }
        var wordStart = index
        while text.isWord(wordStart - 1) { wordStart -= 1 }
        guard index >= 0, wordStart <= index else { return false }
        return versionWords.contains(text, wordStart..<index + 1)
    }

    static func isIPv6(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard range.count >= 2, range.count <= 45 else { return false }
        var buffer = [CChar](repeating: 0, count: range.count + 1)
        for (offset, index) in range.enumerated() { buffer[offset] = CChar(bitPattern: text[index]) }
        var address = in6_addr()
        return inet_pton(AF_INET6, buffer, &address) == 1
    }
}
