/// `EMAIL_ADDRESS`: local part, `@`, a domain of dotted labels ending in an alphabetic top-level
/// domain of 2 to 24 letters (Presidio validates the TLD and then scores 1).
public struct EmailRecognizer: Recognizer {
    public let name = "EmailRecognizer"
    public let entities = [Entity.email]
    public let context = ["email", "e-mail", "mail", "adresse", "address", "kontakt", "contact"]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            guard text[index] == UInt8(ascii: "@") else { index += 1; continue }
            var start = index
            while text.has(start - 1, ByteClass.emailLocal) { start -= 1 }
            while start < index, text[start] == UInt8(ascii: ".") { start += 1 }
            var end = index + 1
            while text.has(end, ByteClass.domain) { end += 1 }
            while end > index + 1, text[end - 1] == UInt8(ascii: ".") || text[end - 1] == UInt8(ascii: "-") { end -= 1 }
            if start < index, index - start <= 64, Self.validDomain(text, index + 1..<end) {
                findings.append(Finding(entityType: Entity.email, start: start, end: end, score: Score.validated, recognizer: name))
                index = end
            } else {
                index += 1
            }
        }
    }

    /// Dotted labels, none empty, the last alphabetic and 2 to 24 long.
    static func validDomain(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard range.count >= 4, range.count <= 253 else { return false }
        var lastDot = -1
        var previous = UInt8(ascii: ".")
        for index in range {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                if previous == UInt8(ascii: ".") || previous == UInt8(ascii: "-") { return false }
                lastDot = index
            }
            previous = byte
        }
        guard lastDot > range.lowerBound else { return false }
        let tld = lastDot + 1..<range.upperBound
        return (2...24).contains(tld.count) && tld.allSatisfy { text.has($0, ByteClass.upper | ByteClass.lower) }
    }
}

/// `URL`: `http://`, `https://`, `ftp://` and `www.` addresses, and bare domains under common
/// top-level domains (`example.com/path`, scored lower, as Presidio does).
public struct URLRecognizer: Recognizer {
    public let name = "UrlRecognizer"
    public let entities = [Entity.url]
    public let context = ["url", "website", "link", "webseite", "seite", "site", "homepage"]

    static let schemes: [[UInt8]] = ["https://", "http://", "ftp://", "www."].map { Array($0.utf8) }
    static let bareTLDs = WordTable(words: ["com", "org", "net", "de", "io", "info", "eu", "uk", "ch", "at", "fr", "nl", "dev", "app", "biz", "co"])

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard text.has(index, ByteClass.upper | ByteClass.lower), text.boundaryBefore(index), index == 0 || text[index - 1] != UInt8(ascii: "@") else { index += 1; continue }
            if byte | 0x20 == UInt8(ascii: "h") || byte | 0x20 == UInt8(ascii: "f") || byte | 0x20 == UInt8(ascii: "w"),
               let scheme = Self.schemes.first(where: { text.matches($0, at: index) }) {
                let end = Self.urlEnd(text, from: index + scheme.count)
                if end > index + scheme.count + 3, text[index + scheme.count..<end].contains(UInt8(ascii: ".")) {
                    findings.append(Finding(entityType: Entity.url, start: index, end: end, score: 0.6, recognizer: name))
                    index = end
                    continue
                }
            }
            // A bare domain: labels, a known TLD, no '@' after it (that is an e-mail address).
            var end = index
            while text.has(end, ByteClass.domain) { end += 1 }
            while end > index, text[end - 1] == UInt8(ascii: ".") || text[end - 1] == UInt8(ascii: "-") { end -= 1 }
            if end < text.count, text[end] == UInt8(ascii: "@") { index = end + 1; continue }
            if let dot = text[index..<end].lastIndex(of: UInt8(ascii: ".")), dot > index, EmailRecognizer.validDomain(text, index..<end),
               Self.bareTLDs.contains(text, dot + 1..<end) {
                let full = end < text.count && text[end] == UInt8(ascii: "/") ? Self.urlEnd(text, from: end) : end
                findings.append(Finding(entityType: Entity.url, start: index, end: full, score: 0.5, recognizer: name))
                index = full
                continue
            }
            index = max(index + 1, text.wordEnd(from: index))
        }
    }

    /// Where a URL that continues at `index` ends: URL characters, less trailing punctuation and
    /// an unbalanced closing parenthesis.
    static func urlEnd(_ text: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var end = index
        var open = 0
        while text.has(end, ByteClass.url) {
            if text[end] == UInt8(ascii: "(") { open += 1 }
            if text[end] == UInt8(ascii: ")") {
                if open == 0 { break }
                open -= 1
            }
            end += 1
        }
        while end > index, Array(".,;:!?'*".utf8).contains(text[end - 1]) { end -= 1 }
        return end
    }
}
