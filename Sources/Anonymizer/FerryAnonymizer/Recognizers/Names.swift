/// The gazetteers as sets of lowercased words, built once.
struct NameIndex: Sendable {
    let firstNames: WordTable
    let surnames: WordTable
    let places: WordTable
    let titles: WordTable
    /// Multi-word places by their first word (the value indexes `multiWordPlaceLists`).
    let multiWordPlaces: WordTable
    let multiWordPlaceLists: [[[UInt8]]]
    static let particles = WordTable(words: ["von", "van", "de", "der", "den", "zu", "di", "da", "del", "le", "la", "ten", "vom"])

    /// Capitalized words that start sentences or stand before names without being names.
    static let sentenceWords = WordTable(words: """
        the a an and or but with for from to at in on by of as is was dear hello hi thanks this that these our your my his her their mr mrs
        der die das den dem des ein eine einer eines und oder aber mit für von vom zu zum zur bei beim im in am an auf aus nach liebe lieber
        hallo sehr geehrte geehrter dank danke bitte ihr ihre sein seine unser unsere mein meine familie family team firma company
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    static let shared = NameIndex()

    private init() {
        func words(_ list: String) -> WordTable { WordTable(words: list.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)) }
        firstNames = words(Gazetteers.firstNames)
        surnames = words(Gazetteers.surnames)
        places = words(Gazetteers.places)
        titles = WordTable(words: Gazetteers.titles)
        var firstWords: [String] = []
        var lists: [[[UInt8]]] = []
        for place in Gazetteers.multiWordPlaces {
            let first = String(place.prefix { $0 != " " })
            if let index = firstWords.firstIndex(of: first) {
                lists[index].append(Array(place.utf8))
            } else {
                firstWords.append(first)
                lists.append([Array(place.utf8)])
            }
        }
        multiWordPlaces = WordTable(firstWords.enumerated().map { ($1, Int32($0)) })
        multiWordPlaceLists = lists
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether the word at `index` starts with a capital letter (ASCII, or Latin-1 capitals À–Þ
    /// such as Ä, Ö, Ü).
    @inline(__always) func isCapitalized(_ index: Int) -> Bool {
        guard index < count else { return false }
        let byte = self[index]
        if byte &- 0x41 < 26 { return true }
        return byte == 0xC3 && index + 1 < count && (0x80...0x9E).contains(self[index + 1]) && self[index + 1] != 0x97
            || byte == 0xC5 && index + 1 < count && [0x9E, 0x81, 0x9A, 0xBB, 0xB9].contains(self[index + 1])
    }

    /// The next word after `end` if one space separates them: its range.
    func nextWord(after end: Int) -> Range<Int>? {
        guard end + 1 < count, self[end] == UInt8(ascii: " "), isWord(end + 1) else { return nil }
        return end + 1..<wordEnd(from: end + 1)
    }
}

/// `PERSON` from the shipped gazetteers: a known first name with the capitalized words after it
/// (middle names, surname, particles as in "von der Leyen"; "Anna-Lena" too), or any
/// capitalized name after a title (Herr, Frau, Mr, Mrs, Dr, Prof). First name with a known
/// surname or after a title: 0.85 (as spaCy's names in Presidio); with an unknown capitalized
/// word: 0.6; a first name alone: 0.5.
public struct PersonRecognizer: Recognizer {
    public let name = "GazetteerPersonRecognizer"
    public let entities = [Entity.person]
    public let context = ["name", "customer", "kunde", "kundin", "contact", "ansprechpartner", "patient", "user", "nutzer", "employee", "mitarbeiter", "dear", "liebe", "lieber", "hallo", "hello", "signed", "gez", "von", "from", "by"]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        let names = NameIndex.shared
        var index = 0
        while index < text.count {
            guard text.isCapitalized(index), text.boundaryBefore(index) else { index += 1; continue }
            var end = text.wordEnd(from: index)
            let word = index..<end
            if names.titles.contains(text, word) {
                var after = end
                if after < text.count, text[after] == UInt8(ascii: ".") { after += 1 }
                // Herr Dr. Müller, Prof. Dr. Weber: titles in a row.
                while let next = text.nextWord(after: after), names.titles.contains(text, next) {
                    after = next.upperBound
                    if after < text.count, text[after] == UInt8(ascii: ".") { after += 1 }
                }
                if let next = text.nextWord(after: after), text.isCapitalized(next.lowerBound) {
                    let nameEnd = Self.extendName(text, from: next.upperBound, names: names, requireKnown: false).end
                    findings.append(Finding(entityType: Entity.person, start: next.lowerBound, end: nameEnd, score: 0.85, recognizer: name))
                    index = nameEnd
                    continue
                }
            } else if names.firstNames.contains(text, word) {
                // Double first names: Anna-Lena, Hans-Peter.
                if end + 1 < text.count, text[end] == UInt8(ascii: "-"), text.isCapitalized(end + 1) {
                    let secondEnd = text.wordEnd(from: end + 1)
                    if names.firstNames.contains(text, end + 1..<secondEnd) { end = secondEnd }
                }
                let (nameEnd, known, unknown) = Self.extendName(text, from: end, names: names, requireKnown: true)
                let score = known ? 0.85 : unknown ? 0.6 : 0.5
                findings.append(Finding(entityType: Entity.person, start: index, end: nameEnd, score: score, recognizer: name))
                index = nameEnd
                continue
            } else if !names.places.contains(text, word), !NameIndex.sentenceWords.contains(text, word), let next = text.nextWord(after: end),
                      text.isCapitalized(next.lowerBound), names.surnames.contains(text, next) {
                // An unknown first name before a known surname: "Wiebke Schmidt".
                findings.append(Finding(entityType: Entity.person, start: index, end: next.upperBound, score: 0.6, recognizer: name))
                index = next.upperBound
                continue
            }
            index = end
        }
    }

    /// Extends a name over following capitalized words (at most three, particles between them),
    /// stopping at places. Returns the end and whether a known surname or an unknown word was taken.
    static func extendName(_ text: UnsafeBufferPointer<UInt8>, from start: Int, names: NameIndex, requireKnown: Bool) -> (end: Int, known: Bool, unknown: Bool) {
        var end = start
        var known = false, unknown = false
        var taken = 0
        while taken < 3, let next = text.nextWord(after: end) {
            var word = next
            // von / van / de … before a capitalized word.
            while NameIndex.particles.contains(text, word), !text.isCapitalized(word.lowerBound), let following = text.nextWord(after: word.upperBound) {
                word = following
            }
            guard text.isCapitalized(word.lowerBound), !names.places.contains(text, word), !names.titles.contains(text, word) else { break }
            // Hyphenated surnames: Müller-Lüdenscheidt.
            var wordEnd = word.upperBound
            if wordEnd + 1 < text.count, text[wordEnd] == UInt8(ascii: "-"), text.isCapitalized(wordEnd + 1) { wordEnd = text.wordEnd(from: wordEnd + 1) }
            if names.surnames.contains(text, word) || names.firstNames.contains(text, word) {
                known = true
            } else {
                // An unknown capitalized word ends a sentence's name only if it is not where a new sentence starts.
                if requireKnown, taken > 0 { break }
                unknown = true
            }
            end = wordEnd
            taken += 1
            if unknown { break }
        }
        return (end, known, unknown)
    }
}

/// `LOCATION` from the shipped gazetteers: cities and countries (German and English names,
/// "Frankfurt am Main", "New York"), 0.6, raised by words such as "in", "aus", "nach", "from".
public struct LocationRecognizer: Recognizer {
    public let name = "GazetteerLocationRecognizer"
    public let entities = [Entity.location]
    public let context = ["in", "aus", "nach", "from", "to", "near", "bei", "city", "stadt", "wohnt", "wohnhaft", "lives", "living", "based", "located", "office", "sitz", "born", "geboren", "address", "adresse", "ort", "wohnort"]

    public init() {}

    public func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding]) {
        let names = NameIndex.shared
        var index = 0
        while index < text.count {
            guard text.isCapitalized(index), text.boundaryBefore(index) else { index += 1; continue }
            let end = text.wordEnd(from: index)
            if let list = names.multiWordPlaces.find(text, index..<end), let longer = names.multiWordPlaceLists[Int(list)].first(where: { place in
                index + place.count <= text.count && (0..<place.count).allSatisfy { text[index + $0] == place[$0] } && !text.isWord(index + place.count)
            }) {
                findings.append(Finding(entityType: Entity.location, start: index, end: index + longer.count, score: 0.6, recognizer: name))
                index += longer.count
                continue
            }
            if names.places.contains(text, index..<end) {
                findings.append(Finding(entityType: Entity.location, start: index, end: end, score: 0.6, recognizer: name))
            }
            index = end
        }
    }
}
