import FerryAnonymizer
import Testing

/// The spans of `entity` the default anonymizer finds in `text`.
func found(_ entity: String, in text: String, _ anonymizer: Anonymizer? = nil) throws -> [String] {
    let anonymizer = try anonymizer ?? Anonymizer()
    let bytes = Array(text.utf8)
    return anonymizer.analyze(text).filter { $0.entityType == entity }.map { String(decoding: bytes[$0.start..<$0.end], as: UTF8.self) }
}

@Suite("Recognizers: positives and near misses")
struct RecognizerTests {
    @Test(arguments: [
        (Entity.email, "Mail an anna.schmidt+news@mail.example.de, bitte.", ["anna.schmidt+news@mail.example.de"]),
        (Entity.email, "not an address: user@localhost or @handle or a@b.c1", []),
        (Entity.phone, "Ruf an: +49 30 1234567 oder 030 12345678, mobil 0151/23456789.", ["+49 30 1234567", "030 12345678", "0151/23456789"]),
        (Entity.phone, "Call (555) 123-4567 or 1-800-555-0199 or +1 212 555 0123 or +44 20 7946 0958.", ["(555) 123-4567", "1-800-555-0199", "+1 212 555 0123", "+44 20 7946 0958"]),
        (Entity.phone, "Zentrale +49 (0)89 1234567, Fax 0049 89 7654321", ["+49 (0)89 1234567", "0049 89 7654321"]),
        (Entity.phone, "Order 12345, on 2026-11-24, 24.11.2026, total 1.234,56, SSN 123-45-6780, room 4.12", []),
        (Entity.creditCard, "Visa 4111 1111 1111 1111, Amex 378282246310005, MC 5555-5555-5555-4444", ["4111 1111 1111 1111", "378282246310005", "5555-5555-5555-4444"]),
        (Entity.creditCard, "Luhn fails: 4111 1111 1111 1112 and 378282246310006; no issuer: 9111111111111111", []),
        (Entity.iban, "IBAN DE89 3704 0044 0532 0130 00, GB29NWBK60161331926819, AT611904300234573201", ["DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819", "AT611904300234573201"]),
        (Entity.iban, "wrong checksum DE89 3704 0044 0532 0130 01, too short DE8937040044053201", []),
        (Entity.ip, "from 192.168.1.20 and 10.0.0.1, v6 2001:db8::8a2e:370:7334 and ::1 and fe80::1%", ["192.168.1.20", "10.0.0.1", "2001:db8::8a2e:370:7334", "::1", "fe80::1"]),
        (Entity.ip, "version 1.2.3.4, build 10.0.19041.1, 256.1.1.1, 1.2.3, 01.2.3.4, 1.2.3.4.5, at 12:30:45", []),
        (Entity.url, "See https://example.com/a?b=1, www.beispiel.de and (http://x.example.org/p).", ["https://example.com/a?b=1", "www.beispiel.de", "http://x.example.org/p"]),
        (Entity.usSSN, "SSN 536-22-8726 or 536 22 8726", ["536-22-8726", "536 22 8726"]),
        (Entity.usSSN, "invalid: 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000, 111-11-1111, 078-05-1120", []),
        (Entity.dateTime, "Born 24.11.1985, on 1985-11-24T10:30, November 24, 1985, 3. März 1985 and 11/24/1985.", ["24.11.1985", "1985-11-24T10:30", "November 24, 1985", "3. März 1985", "11/24/1985"]),
        (Entity.dateTime, "not dates: 31.02.2020, 2020-13-01, 45/45/2020, version 1.2.2020.4", []),
        // Presidio's shapes (its own recognizer tests, checked by `ops/bench --only recognizers`), in cases of our own.
        (Entity.creditCard, "Cards 4561000000000003 5234-5678-9012-3453 6345 9876 5432 1016; Maestro 6763123456789019, Dankort 5019123456789013, UATP 130123456789018",
         ["4561000000000003", "5234-5678-9012-3453", "6345 9876 5432 1016", "6763123456789019", "5019123456789013", "130123456789018"]),
        (Entity.creditCard, "thirteen digits from 1: 1301234567890; Luhn fails: 6763123456789018", []),
        (Entity.phone, "Call 2125550143 or 415 5550199; card 4561 0000 0000 0003, phone 312 5550148; abroad 44-207-946-0958 or 16175550123",
         ["2125550143", "415 5550199", "312 5550148", "44-207-946-0958", "16175550123"]),
        (Entity.phone, "order 1234567890, 1-055-555-0100, 24.11.2026, 2026-11-24, I was born at 1/5/1922", []),
        (Entity.ip, "net 192.168.10.0/24, v6 2001:db8:85a3::/48, link fe80::1c2b%en0, unspecified :: and the route 10.0.0.0/8.",
         ["192.168.10.0/24", "2001:db8:85a3::/48", "fe80::1c2b%en0", "::", "10.0.0.0/8"]),
        (Entity.ip, "host 172.16.5.4.7, bad prefix 10.1.1.1/33, std::cout, 2001:db8::300.1.1.1", ["172.16.5.4", "10.1.1.1"]),
        (Entity.dateTime, "Due 2025-09-30T17:45:12.250+02:00, shipped 7-JUN-2024, from Jun-2024 to 14-Jun, card expires 09/27.",
         ["2025-09-30T17:45:12.250+02:00", "7-JUN-2024", "Jun-2024", "14-Jun", "09/27"]),
        (Entity.dateTime, "page 13/20, ratio 5/7, 32-Jan, Foo-2024", []),
        (Entity.url, "Visit shop.example.co.uk, portal.gov.br or \"https://example.org/x\"; files notes.md and run.py are no sites",
         ["shop.example.co.uk", "portal.gov.br", "\"https://example.org/x\""]),
        (Entity.email, "Write to kontakt@xn--mller-kva.de or a@xn--80ak6aa92e.xn--p1ai", ["kontakt@xn--mller-kva.de", "a@xn--80ak6aa92e.xn--p1ai"]),
        (Entity.iban, "FR14-2004-1010-0505-0001-3M02-606 and GB82 WEST 1234 5698 7654 32; mixed GB82-WEST 1234 5698 7654 32",
         ["FR14-2004-1010-0505-0001-3M02-606", "GB82 WEST 1234 5698 7654 32"]),
        (Entity.usSSN, "weak forms 53622-8726 and 536-228726; not 53622-87261 or 536-22872", ["53622-8726", "536-228726"]),
        (Entity.crypto, "BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2, 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy, bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]),
        (Entity.crypto, "checksum broken: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3, bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr", []),
        (Entity.person, "Anna-Lena Müller traf Herrn Dr. Weber und John Smith; Ursula von der Leyen kam auch.", ["Anna-Lena Müller", "Weber", "John Smith", "Ursula von der Leyen"]),
        (Entity.location, "Sie zog von Frankfurt am Main nach München, er lebt in New York.", ["Frankfurt am Main", "München", "New York"]),
    ])
    func recognizes(_ entity: String, _ text: String, _ expected: [String]) throws {
        let spans = try found(entity, in: text)
        #expect(spans == expected, "found \(spans)")
    }

    @Test func contextRaisesTheScore() throws {
        let anonymizer = try Anonymizer()
        let bare = anonymizer.analyze("Reference 536228726 attached").first { $0.entityType == Entity.usSSN }
        let withContext = anonymizer.analyze("Her social security number is 536228726").first { $0.entityType == Entity.usSSN }
        #expect(bare?.score == 0.05)
        #expect(withContext?.score == 0.4)
        let phone = anonymizer.analyze("Telefon: 030 12345678").first { $0.entityType == Entity.phone }
        #expect(phone.map { abs($0.score - 0.75) < 1e-9 } == true)
    }

    @Test func overlapsAreResolvedAsPresidioDoes() throws {
        let anonymizer = try Anonymizer()
        // The e-mail address contains a bare domain (URL, 0.5): the address (1.0) wins whole.
        let email = anonymizer.analyze("write to info@www.example.com now")
        #expect(email.map(\.entityType) == [Entity.email])
        // A card number is also digits in groups; the validated card wins over everything inside it.
        let card = anonymizer.analyze("card 4111 1111 1111 1111")
        #expect(card.map(\.entityType) == [Entity.creditCard])
        // Two findings of one type that overlap merge into one.
        let custom = try AnonymizerConfiguration.decode(json: Array("""
            {"recognizers": [{"name": "ids", "supported_entity": "CUSTOMER_ID", "patterns": [
              {"name": "a", "regex": "K-[0-9]{4}", "score": 0.5}, {"name": "b", "regex": "[0-9]{4}-X", "score": 0.7}]}]}
            """.utf8))
        let merged = try Anonymizer(configuration: custom).analyze("id K-1234-X end").filter { $0.entityType == "CUSTOMER_ID" }
        #expect(merged.count == 1)
        #expect(merged.first?.start == 3 && merged.first?.end == 11 && merged.first?.score == 0.7)
    }

    @Test func customPatternsContextAndDenyLists() throws {
        let configuration = try AnonymizerConfiguration.decode(json: Array("""
            {"recognizers": [
              {"name": "Kundennummer", "supported_entity": "CUSTOMER_ID", "supported_language": "de",
               "patterns": [{"name": "weak", "regex": "\\\\bKD[0-9]{6}\\\\b", "score": 0.3}], "context": ["kunde", "kundennummer"]},
              {"name": "titles", "supported_entity": "TITLE", "deny_list": ["Mr.", "Frau Dr."]}
            ], "score_threshold": 0.35}
            """.utf8))
        let anonymizer = try Anonymizer(configuration: configuration)
        #expect(try found("CUSTOMER_ID", in: "Kundennummer KD123456 liegt vor", anonymizer) == ["KD123456"])
        #expect(try found("CUSTOMER_ID", in: "Artikel KD123456 liegt vor", anonymizer) == [])  // 0.3 without context: under the threshold
        #expect(try found("TITLE", in: "Mr. Smith and Frau Dr. Weber, not Mr.X", anonymizer) == ["Mr.", "Frau Dr."])
    }

    @Test func allowListAndEntityFilter() throws {
        let configuration = AnonymizerConfiguration(entities: [Entity.email], allowList: ["support@example.com"])
        let anonymizer = try Anonymizer(configuration: configuration)
        let findings = anonymizer.analyze("support@example.com or anna@example.com, call 030 12345678")
        #expect(findings.map(\.entityType) == [Entity.email])
        #expect(findings.map(\.start) == [23])
    }

    @Test func bytesThatAreNotUTF8AreKeptAndScannedAround() throws {
        let anonymizer = try Anonymizer()
        var text: [UInt8] = Array("Mail ".utf8) + [0xFF, 0xC3, 0x28] + Array(" anna@example.com \u{00FC}".utf8) + [0xE2, 0x82]
        var output: [UInt8] = []
        var findings: [Finding] = []
        text.withUnsafeBufferPointer { anonymizer.anonymize($0, into: &output, findings: &findings) }
        #expect(findings.map(\.entityType) == [Entity.email])
        #expect(output == Array("Mail ".utf8) + [0xFF, 0xC3, 0x28] + Array(" <EMAIL_ADDRESS> \u{00FC}".utf8) + [0xE2, 0x82])
        text = []
        text.withUnsafeBufferPointer { anonymizer.anonymize($0, into: &output, findings: &findings) }
        #expect(findings.isEmpty)
    }
}

@Suite("Accuracy on the synthetic corpus")
struct AccuracyTests {
    @Test func precisionAndRecallPerEntity() throws {
        let anonymizer = try Anonymizer()
        var corpus = SyntheticCorpus(seed: 20261125)
        var evaluation = Evaluation()
        for row in corpus.rows(4000) {
            evaluation.add(findings: anonymizer.analyze(row.text).map { ($0.entityType, $0.start, $0.end) }, labels: row.labels)
        }
        for entity in Entity.all {
            let counts = try #require(evaluation.byEntity[entity], "no \(entity) in the corpus")
            print("accuracy \(entity): precision \(counts.precision), recall \(counts.recall) (\(counts.labelled) labelled)")
            #expect(counts.labelled > 50)
            #expect(counts.precision >= 0.98, "\(entity) precision \(counts.precision)")
            switch entity {
            // From gazetteers: names and places outside them are missed (a quarter of the corpus's).
            case Entity.person: #expect(counts.recall >= 0.9, "PERSON recall \(counts.recall)")
            case Entity.location: #expect(counts.recall >= 0.65, "LOCATION recall \(counts.recall)")
            default: #expect(counts.recall >= 0.98, "\(entity) recall \(counts.recall)")
            }
        }
    }

    @Test func theCorpusIsTheSameForTheSameSeed() {
        var first = SyntheticCorpus(seed: 5), second = SyntheticCorpus(seed: 5)
        #expect(first.rows(50).map(\.text) == second.rows(50).map(\.text))
    }
}

@Suite("Fuzzing the scanners")
struct FuzzTests {
    /// Random texts from an alphabet that provokes every scanner (digits, separators, '@', ':',
    /// '+', parentheses, letters, UTF-8 and broken UTF-8), and corpus rows with random bytes
    /// changed: nothing traps, findings are in bounds, in order, disjoint, and `keep` gives the
    /// input back byte for byte.
    @Test func randomAndMutatedTextsNeverTrap() throws {
        let anonymizer = try Anonymizer()
        let keeping = try Anonymizer(configuration: .init(operators: ["DEFAULT": .init(type: "keep")]))
        let alphabet: [[UInt8]] = ["0", "1", "4", "9", " ", "-", ".", "/", ":", "@", "+", "(", ")", "a", "B", "c", "x", "DE", "bc1", "www.", "\n", ",", "ü", "Ä"].map { Array($0.utf8) }
            + [[0xFF], [0xC3], [0xE2, 0x82], [0x00]]
        var random = SystemRandomNumberGenerator()
        var corpus = SyntheticCorpus(seed: 99)
        var findings: [Finding] = []
        var output: [UInt8] = []
        for round in 0..<20_000 {
            var text: [UInt8]
            if round % 2 == 0 {
                text = (0..<Int.random(in: 0...120, using: &random)).flatMap { _ in alphabet.randomElement(using: &random)! }
            } else {
                text = Array(corpus.next().text.utf8)
                for _ in 0..<Int.random(in: 1...6, using: &random) where !text.isEmpty {
                    text[Int.random(in: 0..<text.count, using: &random)] = alphabet.randomElement(using: &random)!.first!
                }
            }
            text.withUnsafeBufferPointer { bytes in
                anonymizer.analyze(bytes, into: &findings)
                var last = 0
                for finding in findings {
                    #expect(finding.start >= last && finding.start < finding.end && finding.end <= bytes.count, "\(text) \(finding)")
                    last = finding.end
                }
                output.removeAll()
                keeping.anonymize(bytes, into: &output, findings: &findings)
                #expect(output == text)
            }
        }
    }
}
