import Crypto

/// Labelled German and English sentences with made-up people, numbers and addresses — and
/// near misses that must not be reported (Luhn-failing card numbers, IBANs with a wrong
/// checksum, version numbers shaped like IP addresses, order numbers, amounts, times). Used by
/// the accuracy tests and by `ops/bench` (which also gives it to Presidio).
///
/// A share of the names and cities is not in the shipped gazetteers, so PERSON and LOCATION
/// recall is measured honestly.
public struct SyntheticCorpus: Sendable {
    /// One sentence and where its personal data stands (byte offsets).
    public struct Row: Sendable, Codable {
        public var text: String
        public var labels: [Label]
    }

    public struct Label: Sendable, Codable, Hashable {
        public var entityType: String
        public var start: Int
        public var end: Int

        enum CodingKeys: String, CodingKey {
            case start, end
            case entityType = "entity_type"
        }
    }

    var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// The next row.
    public mutating func next() -> Row {
        var builder = Builder()
        let template = Self.templates[random(Self.templates.count)]
        for piece in template {
            switch piece {
            case .text(let text): builder.append(text)
            case .slot(let slot): builder.append(value(for: slot), label: slot.entity)
            }
        }
        return Row(text: builder.text, labels: builder.labels)
    }

    /// `count` rows.
    public mutating func rows(_ count: Int) -> [Row] { (0..<count).map { _ in next() } }

    // MARK: Values

    mutating func random(_ bound: Int) -> Int {
        // SplitMix64.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }

    mutating func pick(_ list: [String]) -> String { list[random(list.count)] }
    mutating func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(random(10))) }) }

    static let knownFirst = ["Anna", "Lukas", "Sophie", "Jürgen", "Emma", "Thomas", "Sarah", "Michael", "Katharina", "Oliver", "Jessica", "Stefan", "Mehmet", "Laura", "Peter", "Olivia", "Jonas", "Helga", "James", "Ursula"]
    static let knownLast = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schäfer", "Koch", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Öztürk", "Krüger", "Wagner", "Walker"]
    static let otherFirst = ["Wiebke", "Enno", "Malte", "Frauke", "Imke", "Ansgar", "Keanu", "Siobhan", "Declan", "Priya", "Ottilie", "Ludger"]
    static let otherLast = ["Brinkmann", "Habermann", "Ostermeier", "Pfannkuch", "Wetzlaff", "Abernathy", "Fairweather", "Pennington", "Whitcombe", "Okonkwo"]
    static let knownCities = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Leipzig", "Dresden", "Stuttgart", "London", "Manchester", "New York", "Wien", "Zürich", "Düsseldorf", "Nürnberg", "Boston"]
    static let otherCities = ["Wolfenbüttel", "Quedlinburg", "Lüneburg", "Tübingen", "Hildesheim", "Norwich", "Exeter", "Swansea", "Tucson"]
    static let domains = ["example.com", "beispiel.de", "mail.example.org", "posteo.de", "web.de", "example.co.uk"]

    mutating func person() -> (String, String) {
        let first = random(4) == 0 ? pick(Self.otherFirst) : pick(Self.knownFirst)
        let last = random(4) == 0 ? pick(Self.otherLast) : pick(Self.knownLast)
        return (first, last)
    }

    static func ascii(_ text: String) -> String {
        var result = ""
        for character in text.lowercased() {
            switch character {
            case "ä": result += "ae"
            case "ö": result += "oe"
            case "ü": result += "ue"
            case "ß": result += "ss"
            default: result.append(character)
            }
        }
        return result
    }

    mutating func value(for slot: Slot) -> String {
        switch slot {
        case .person:
            let (first, last) = person()
            return "\(first) \(last)"
        case .surname:
            return random(4) == 0 ? pick(Self.otherLast) : pick(Self.knownLast)
        case .location:
            return random(4) == 0 ? pick(Self.otherCities) : pick(Self.knownCities)
        case .email:
            let (first, last) = person()
            return "\(Self.ascii(first)).\(Self.ascii(last))\(random(3) == 0 ? String(random(99)) : "")@\(pick(Self.domains))"
        case .phone:
            switch random(6) {
            case 0: return "+49 30 \(digits(7))"
            case 1: return "+49 15\(random(10)) \(digits(8))"
            case 2: return "030 \(digits(8))"
            case 3: return "0151/\(digits(8))"
            case 4: return "+44 20 7946 \(digits(4))"
            default: return "(\(2 + random(8))\(digits(2))) \(2 + random(8))\(digits(2))-\(digits(4))"
            }
        case .creditCard:
            let card = luhnComplete(pick(["4", "51", "52", "55", "37", "6011"]), length: 16)
            return random(2) == 0 ? card : group(card, by: 4)
        case .iban:
            let iban = random(2) == 0 ? Self.ibanWithCheck("DE", bban: digits(18)) : Self.ibanWithCheck("GB", bban: "NWBK" + digits(14))
            return random(2) == 0 ? iban : group(iban, by: 4)
        case .ip:
            if random(4) == 0 { return "2001:db8:\(String(random(65536), radix: 16)):\(String(random(65536), radix: 16))::\(String(1 + random(255), radix: 16))" }
            return "\(1 + random(223)).\(random(256)).\(random(256)).\(1 + random(254))"
        case .url:
            return pick(["https://www.", "http://", "www.", "https://"]) + pick(["example.com", "beispiel.de", "shop.example.org", "portal.example.de"]) + pick(["", "/kontakt", "/account/settings?id=\(random(9999))", "/profile/\(random(9999))"])
        case .ssn:
            let area = [1 + random(664), 667 + random(232)][random(2)]
            return "\(String(format3: area))-\(String(format2: 1 + random(99)))-\(String(format4: 1 + random(9998)))"
        case .date:
            let day = 1 + random(28), month = 1 + random(12), year = 1940 + random(80)
            let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
            let monate = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"]
            switch random(4) {
            case 0: return "\(String(format2: day)).\(String(format2: month)).\(year)"
            case 1: return "\(year)-\(String(format2: month))-\(String(format2: day))"
            case 2: return "\(months[month - 1]) \(day), \(year)"
            default: return "\(day). \(monate[month - 1]) \(year)"
            }
        case .crypto:
            return bitcoinAddress()
        case .badCard:
            let card = luhnComplete("4", length: 16)
            let last = Int(String(card.last!))!
            return group(String(card.dropLast()) + String((last + 1) % 10), by: 4)
        case .badIBAN:
            let iban = Self.ibanWithCheck("DE", bban: digits(18))
            let last = Int(String(iban.last!))!
            return group(String(iban.dropLast()) + String((last + 3) % 10), by: 4)
        case .version:
            return "\(1 + random(9)).\(random(10)).\(random(10)).\(random(10))"
        case .orderNumber:
            return digits(5)
        case .amount:
            return "\(1 + random(9)).\(digits(3)),\(digits(2))"
        case .time:
            return "\(10 + random(10)):\(String(format2: random(60)))"
        }
    }

    mutating func luhnComplete(_ prefix: String, length: Int) -> String {
        var number = prefix + digits(length - prefix.count - 1)
        for check in 0...9 where Self.luhnValid(number + String(check)) {
            number += String(check)
            break
        }
        return number
    }

    static func luhnValid(_ number: String) -> Bool {
        var sum = 0
        for (position, character) in number.reversed().enumerated() {
            var value = Int(String(character))!
            if position % 2 == 1 { value *= 2; if value > 9 { value -= 9 } }
            sum += value
        }
        return sum % 10 == 0
    }

    func group(_ text: String, by size: Int) -> String {
        var result = ""
        for (index, character) in text.enumerated() {
            if index > 0, index % size == 0 { result.append(" ") }
            result.append(character)
        }
        return result
    }

    static func ibanWithCheck(_ country: String, bban: String) -> String {
        let rearranged = bban + country + "00"
        var remainder = 0
        for character in rearranged {
            if let digit = character.wholeNumberValue {
                remainder = (remainder * 10 + digit) % 97
            } else {
                remainder = (remainder * 100 + Int(character.asciiValue! - 55)) % 97
            }
        }
        return country + String(format2: 98 - remainder) + bban
    }

    mutating func bitcoinAddress() -> String {
        var payload: [UInt8] = [0] + (0..<20).map { _ in UInt8(random(256)) }
        let checksum = Array(SHA256.hash(data: Array(SHA256.hash(data: payload))))
        payload += checksum[0..<4]
        let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
        var number = payload
        var encoded: [Character] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder * 256 + Int(number[index])
                number[index] = UInt8(value / 58)
                remainder = value % 58
            }
            encoded.append(alphabet[remainder])
        }
        for byte in payload { if byte == 0 { encoded.append("1") } else { break } }
        return String(encoded.reversed())
    }

    // MARK: Templates

    enum Slot {
        case person, surname, location, email, phone, creditCard, iban, ip, url, ssn, date, crypto
        case badCard, badIBAN, version, orderNumber, amount, time

        var entity: String? {
            switch self {
            case .person, .surname: Entity.person
            case .location: Entity.location
            case .email: Entity.email
            case .phone: Entity.phone
            case .creditCard: Entity.creditCard
            case .iban: Entity.iban
            case .ip: Entity.ip
            case .url: Entity.url
            case .ssn: Entity.usSSN
            case .date: Entity.dateTime
            case .crypto: Entity.crypto
            case .badCard, .badIBAN, .version, .orderNumber, .amount, .time: nil
            }
        }
    }

    enum Piece {
        case text(String)
        case slot(Slot)
    }

    static let templates: [[Piece]] = [
        [.text("Please contact "), .slot(.person), .text(" at "), .slot(.email), .text(" or call "), .slot(.phone), .text(".")],
        [.slot(.person), .text(" was born on "), .slot(.date), .text(" in "), .slot(.location), .text(".")],
        [.text("Card number "), .slot(.creditCard), .text(" was charged "), .slot(.amount), .text(" USD for order "), .slot(.orderNumber), .text(".")],
        [.text("Transfer the refund to IBAN "), .slot(.iban), .text(" (account holder: "), .slot(.person), .text(").")],
        [.text("Login from "), .slot(.ip), .text(" failed at "), .slot(.time), .text("; firmware version "), .slot(.version), .text(" is current.")],
        [.text("See "), .slot(.url), .text(" for the terms, or write to "), .slot(.email), .text(".")],
        [.text("Her SSN is "), .slot(.ssn), .text(" and she moved to "), .slot(.location), .text(" last year.")],
        [.text("Send the BTC to wallet "), .slot(.crypto), .text(" before "), .slot(.date), .text(", thanks!")],
        [.text("The card "), .slot(.badCard), .text(" was declined, so "), .slot(.person), .text(" paid by transfer.")],
        [.text("Sehr geehrte Frau "), .slot(.surname), .text(", Ihre Rechnung vom "), .slot(.date), .text(" über "), .slot(.amount), .text(" EUR ist fällig.")],
        [.slot(.person), .text(" wohnt in "), .slot(.location), .text(" und ist unter "), .slot(.phone), .text(" erreichbar.")],
        [.text("Bitte überweisen Sie den Betrag auf das Konto "), .slot(.iban), .text(", Verwendungszweck "), .slot(.orderNumber), .text(".")],
        [.text("Geburtsdatum: "), .slot(.date), .text(", Geburtsort: "), .slot(.location), .text(", Telefon "), .slot(.phone), .text(".")],
        [.text("Schreiben Sie an "), .slot(.email), .text(", Bestellnummer "), .slot(.orderNumber), .text(", Lieferung um "), .slot(.time), .text(" Uhr.")],
        [.text("Die IBAN "), .slot(.badIBAN), .text(" ist ungültig; Herr "), .slot(.surname), .text(" prüft sie.")],
        [.text("Der Server "), .slot(.ip), .text(" antwortet nicht, installiert ist Version "), .slot(.version), .text(".")],
        [.text("Kreditkarte "), .slot(.creditCard), .text(" von "), .slot(.person), .text(" aus "), .slot(.location), .text(" wurde belastet.")],
        [.text("Mehr unter "), .slot(.url), .text(" oder per Mail an "), .slot(.email), .text(" (Antwort binnen 2 Tagen).")],
    ]

    struct Builder {
        var text = ""
        var labels: [Label] = []

        mutating func append(_ piece: String, label: String? = nil) {
            let start = text.utf8.count
            text += piece
            if let label { labels.append(Label(entityType: label, start: start, end: text.utf8.count)) }
        }
    }
}

extension String {
    init(format2 value: Int) { self = value < 10 ? "0\(value)" : String(value) }
    init(format3 value: Int) { self = Self.padded(value, 3) }
    init(format4 value: Int) { self = Self.padded(value, 4) }

    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}

/// Precision and recall per entity type: a finding counts when it overlaps a label of its type.
public struct Evaluation: Sendable {
    public struct Counts: Sendable, Equatable {
        public var truePositives = 0, predicted = 0, labelled = 0, found = 0
        public var precision: Double { predicted == 0 ? 1 : Double(truePositives) / Double(predicted) }
        public var recall: Double { labelled == 0 ? 1 : Double(found) / Double(labelled) }
    }

    public private(set) var byEntity: [String: Counts] = [:]

    public init() {}

    /// Adds one row's findings (byte spans) against its labels.
    public mutating func add(findings: [(entityType: String, start: Int, end: Int)], labels: [SyntheticCorpus.Label]) {
        for finding in findings {
            byEntity[finding.entityType, default: .init()].predicted += 1
            if labels.contains(where: { $0.entityType == finding.entityType && $0.start < finding.end && finding.start < $0.end }) {
                byEntity[finding.entityType, default: .init()].truePositives += 1
            }
        }
        for label in labels {
            byEntity[label.entityType, default: .init()].labelled += 1
            if findings.contains(where: { $0.entityType == label.entityType && $0.start < label.end && label.start < $0.end }) {
                byEntity[label.entityType, default: .init()].found += 1
            }
        }
    }
}
