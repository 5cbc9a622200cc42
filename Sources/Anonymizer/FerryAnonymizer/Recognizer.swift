/// Finds one or more kinds of personal data in UTF-8 text (Presidio's `EntityRecognizer`).
///
/// Recognizers scan bytes and append what they find; they hold no state between texts, so one
/// instance serves every thread.
public protocol Recognizer: Sendable {
    /// Shown in findings and reports.
    var name: String { get }
    /// The entity names it can report.
    var entities: [String] { get }
    /// Words that, found just before a finding, raise its score (lowercase; a text word matches
    /// when it starts with one: `telefon` matches `Telefonnummer`).
    var context: [String] { get }
    /// Appends the findings in `text`.
    func scan(_ text: UnsafeBufferPointer<UInt8>, into findings: inout [Finding])
}

/// Presidio's scores, kept so that thresholds written for Presidio mean the same here.
enum Score {
    /// A checksum confirmed it (Presidio's `MAX_SCORE`).
    static let validated = 1.0
    /// What context words add (Presidio's `context_similarity_factor`) …
    static let contextBoost = 0.35
    /// … and the least a finding with context gets (`min_score_with_context_similarity`).
    static let contextFloor = 0.4
}
