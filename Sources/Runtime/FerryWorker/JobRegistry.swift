public import FerryQueue
import Foundation

/// The job types a worker can run: type name → handler and effective settings.
public struct JobRegistry: Sendable {
    /// A registered type with its settings.
    public struct Entry: Sendable {
        public let type: String
        public let settings: JobSettings
        let run: @Sendable (JSONValue, JobContext) throws -> Void
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Where `<type>.yml` overrides are read from; `nil` for none.
    public let settingsDirectory: String?

    public init(settingsDirectory: String? = "jobs") {
        self.settingsDirectory = settingsDirectory
    }

    /// Registers `handler`, applying `jobs/<type>.yml` on top of its default settings.
    public mutating func register<Handler: JobHandler>(_ handler: Handler) throws(JobSettingsFile.Invalid) {
        var settings = Handler.defaultSettings
        let defaults = JobSettings()
        for (name, differs) in [
            ("queue", settings.queue != defaults.queue), ("max_attempts", settings.maxAttempts != defaults.maxAttempts),
            ("timeout", settings.timeout != defaults.timeout), ("backoff", settings.backoff != defaults.backoff),
            ("concurrency", settings.concurrency != nil), ("rate", settings.rate != nil),
            ("parameters", !settings.parameters.isEmpty),
        ] {
            settings.sources[name] = differs ? "handler" : "default"
        }
        if let settingsDirectory {
            try JobSettingsFile.apply(directory: settingsDirectory, type: Handler.type, to: &settings)
        }
        let none = NoArguments() as? Handler.Arguments
        entries[Handler.type] = Entry(type: Handler.type, settings: settings) { args, context in
            if let none {
                try handler.perform(none, context: context)
                return
            }
            let arguments: Handler.Arguments
            do {
                arguments = try JSONValueDecoder().decode(Handler.Arguments.self, from: args)
            } catch {
                throw InvalidArguments(type: Handler.type, reason: describe(error))
            }
            try handler.perform(arguments, context: context)
        }
    }

    public subscript(type: String) -> Entry? { entries[type] }

    /// Registered type names, sorted.
    public var types: [String] { entries.keys.sorted() }

    /// The dispatcher's defaults for a type (its queue, attempts, timeout).
    public func enqueueDefaults(for type: String) -> EnqueueDefaults {
        entries[type]?.settings.enqueueDefaults ?? EnqueueDefaults()
    }
}

/// A job's `args` do not fit its handler's argument type. Retrying cannot fix that.
public struct InvalidArguments: Error, Sendable, CustomStringConvertible {
    public var type: String
    public var reason: String
    public var description: String { "the arguments do not fit \(type): \(reason)" }
}

private func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
        return "missing argument '\(path)'"
    case DecodingError.typeMismatch(let type, let context):
        return "argument '\(context.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type)"
    case DecodingError.valueNotFound(let type, let context):
        return "argument '\(context.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type), not null"
    case DecodingError.dataCorrupted(let context):
        return context.debugDescription
    default:
        return "\(error)"
    }
}
