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

    /// Dotted labels, none empty, the last alphabetic and 2 to 24 long, or an internationalized
    /// one in its ASCII form (`xn--p1ai`).
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
        if tld.count > 4, text.matches(Array("xn--".utf8), at: tld.lowerBound) {
            return tld.count <= 63 && tld.dropFirst(4).allSatisfy { text.has($0, ByteClass.upper | ByteClass.lower | ByteClass.digit) || text[$0] == UInt8(ascii: "-") }
        }
        return (2...24).contains(tld.count) && tld.allSatisfy { text.has($0, ByteClass.upper | ByteClass.lower) }
    }
}

/// `URL`: `http://`, `https://`, `ftp://` and `www.` addresses, and bare domains under country
/// and common generic top-level domains (`example.com/path`, `google.co.il`; scored lower, as
/// Presidio does). A URL in quotes is reported with them, as Presidio reports it.
public struct URLRecognizer: Recognizer {
    public let name = "UrlRecognizer"
    public let entities = [Entity.url]
    public let context = ["url", "website", "link", "webseite", "seite", "site", "homepage"]

    static let schemes: [[UInt8]] = ["https://", "http://", "ftp://", "www."].map { Array($0.utf8) }
    /// Generic top-level domains a bare domain may end in.
    static let genericTLDs = [
        "com", "org", "net", "edu", "gov", "int", "mil", "info", "biz", "name", "pro", "mobi", "app", "dev", "io", "ai", "cloud", "online",
        "site", "store", "shop", "tech", "blog", "news", "website", "space", "live", "world", "email", "group", "company", "agency", "studio",
        "design", "media", "network", "digital", "systems", "solutions", "services", "software", "academy", "berlin", "hamburg", "koeln",
        "bayern", "wien", "swiss", "london", "nyc", "paris", "amsterdam", "vlaanderen", "bank", "finance", "capital", "money", "xyz", "top",
    ]

    /// Country-code top-level domains (ISO 3166 codes in use as TLDs, and uk, eu), less those
    /// far more often seen as file extensions after a file name (md, py, rs, sh, ps, so, cc, pl).
    static let countryTLDs = """
        ac ad ae af ag al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz ca cd cf cg ch ci ck cl \
        cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt \
        gu gw gy hk hm hn hr ht hu id ie il im in iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv \
        ly ma mc me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pm pn \
        pr pt pw qa re ro ru rw sa sb sc sd se sg si sk sl sm sn sr st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua \
        ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    static let bareTLDs = WordTable(words: genericTLDs + countryTLDs)

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
                    let (start, quotedEnd) = Self.quoted(text, index, end)
                    findings.append(Finding(entityType: Entity.url, start: start, end: quotedEnd, score: 0.6, recognizer: name))
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
                let (start, quotedEnd) = Self.quoted(text, index, full)
                findings.append(Finding(entityType: Entity.url, start: start, end: quotedEnd, score: 0.5, recognizer: name))
                index = full
                continue
            }
            index = max(index + 1, text.wordEnd(from: index))
        }
    }

    /// The span with the quotes around it, when the URL stands between two of a kind (`"…"`, `'…'`).
    static func quoted(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        guard start > 0, end < text.count, text[start - 1] == text[end], text[end] == UInt8(ascii: "\"") || text[end] == UInt8(ascii: "'") else { return (start, end) }
        return (start - 1, end + 1)
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
