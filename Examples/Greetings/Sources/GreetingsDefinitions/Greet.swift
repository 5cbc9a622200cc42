public import FerryQueue

/// `greet.send`: greets someone. The definition both sides share.
public struct Greet: JobDefinition {
    public static let type = "greet.send"
    public static let defaultSettings = JobSettings(queue: "greetings", maxAttempts: 3, timeout: .seconds(10))

    public struct Arguments: Codable, Sendable {
        public var name: String
        public var language: String?

        public init(name: String, language: String? = nil) {
            self.name = name
            self.language = language
        }
    }

    public init() {}
}
