/// One piece of personal data found in a text: Presidio's `RecognizerResult`.
///
/// Spans are byte offsets into the UTF-8 text (`start..<end`); ``AnalyzedText`` converts them to
/// the character offsets Presidio reports.
public struct Finding: Sendable, Hashable {
    /// Presidio's entity name: `EMAIL_ADDRESS`, `PHONE_NUMBER`, `PERSON`, or a custom one.
    public var entityType: String
    /// The first byte.
    public var start: Int
    /// One past the last byte.
    public var end: Int
    /// Confidence from 0 to 1: the recognizer's, raised by context words nearby, 1 once a checksum
    /// (Luhn, mod-97, Base58Check, Bech32) has confirmed it.
    public var score: Double
    /// The recognizer that found it (shown in explanations and reports).
    public var recognizer: String
    /// How much a context word nearby raised ``score`` (0 when none did): Presidio's
    /// `score_context_improvement`.
    public var contextImprovement: Double

    public init(entityType: String, start: Int, end: Int, score: Double, recognizer: String, contextImprovement: Double = 0) {
        self.entityType = entityType
        self.start = start
        self.end = end
        self.score = score
        self.recognizer = recognizer
        self.contextImprovement = contextImprovement
    }

    /// The number of bytes covered.
    public var length: Int { end - start }

    func overlaps(_ other: Finding) -> Bool { start < other.end && other.start < end }
    func contains(_ other: Finding) -> Bool { start <= other.start && other.end <= end }
}

/// The entity names of the built-in recognizers (Presidio's).
public enum Entity {
    public static let email = "EMAIL_ADDRESS"
    public static let phone = "PHONE_NUMBER"
    public static let creditCard = "CREDIT_CARD"
    public static let iban = "IBAN_CODE"
    public static let ip = "IP_ADDRESS"
    public static let url = "URL"
    public static let usSSN = "US_SSN"
    public static let dateTime = "DATE_TIME"
    public static let crypto = "CRYPTO"
    public static let person = "PERSON"
    public static let location = "LOCATION"

    /// Every built-in entity, in the order reports list them.
    public static let all = [email, phone, creditCard, iban, ip, url, usSSN, dateTime, crypto, person, location]
}
