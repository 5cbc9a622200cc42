/// What a job type is, as both sides of the queue see it: its name, its arguments and its
/// defaults. The code that enqueues a job and the handler that runs it share one definition, so
/// the compiler checks every enqueue:
///
/// ```swift
/// enum Welcome: JobDefinition {
///     static let type = "welcome.send"
///     static let defaultSettings = JobSettings(queue: "mail", maxAttempts: 5)
///     struct Arguments: Codable, Sendable {
///         var userID: Int
///         enum CodingKeys: String, CodingKey { case userID = "user_id" }
///     }
/// }
///
/// let id = try await dispatcher.enqueue(Welcome.self, .init(userID: 42))
/// ```
///
/// A handler (`JobHandler`, `AsyncJobHandler` in FerryWorker) is a definition too; an API tier
/// that only enqueues can share a definition without linking the handler's dependencies.
/// The arguments travel as the JSON object their `Codable` conformance writes, so producers in
/// other languages enqueue the same type with the same object.
public protocol JobDefinition: Sendable {
    /// The job's arguments, encoded as the job's `args` JSON object.
    associatedtype Arguments: Codable & Sendable = NoArguments

    /// The type name jobs are enqueued with, such as `email.send`: 1 to 100 ASCII letters,
    /// digits, `.`, `_` or `-` (``Names``).
    static var type: String { get }

    /// Queue, attempts, timeout and the rest, before `jobs/<type>.yml` overrides them. An
    /// enqueue that names no queue uses this queue in every process, whether or not it read
    /// the settings folder.
    static var defaultSettings: JobSettings { get }
}

extension JobDefinition {
    public static var defaultSettings: JobSettings { JobSettings() }
}

/// Arguments of a job that takes none: encoded as `{}`, and any object is accepted.
public struct NoArguments: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: NoKeys.self)
    }

    private enum NoKeys: CodingKey {}
}
