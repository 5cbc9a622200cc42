public import FerryQueue
import Foundation

/// The job types a worker can run: type name → handler and effective settings.
public struct JobRegistry: Sendable {
    /// A registered type with its settings. A class: looked up for every job, and a copy of a
    /// reference is one retain where a copy of the settings retains each of their parts.
    public final class Entry: Sendable {
        /// The type's name.
        public let type: String
        /// Its effective settings (definition defaults, then `jobs/<type>.yml`).
        public let settings: JobSettings
        /// The services it cannot run without.
        public let requiredServices: [RequiredService]
        let body: Body
        /// Whether attempts of this type may run together on one thread.
        let runsTogether: Bool

        init(type: String, settings: JobSettings, requiredServices: [RequiredService], body: Body) {
            self.type = type
            self.settings = settings
            self.requiredServices = requiredServices
            self.body = body
            if case .async = body { runsTogether = settings.concurrency == nil } else { runsTogether = false }
        }

        /// How an attempt runs: on the calling thread, or as a task among others.
        enum Body: Sendable {
            case blocking(@Sendable (JSONValue, JobContext) throws -> Void)
            case async(AsyncBody)

            /// An async attempt: it runs on the executor of its caller, the thread's ``JobLoop``.
            typealias AsyncBody = nonisolated(nonsending) @Sendable (JSONValue, JobContext) async throws -> Void
        }
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Where `<type>.yml` overrides are read from; `nil` for none.
    public let settingsDirectory: String?

    public init(settingsDirectory: String? = "jobs") {
        self.settingsDirectory = settingsDirectory
    }

    /// Why a handler could not be registered.
    public enum RegistrationError: Error, Sendable, CustomStringConvertible {
        /// Another handler has this type already: two handlers for one name would leave which
        /// one runs to chance.
        case duplicate(type: String)
        /// The type name, or the queue its settings name, breaks the naming rule (``Names``).
        case invalidName(type: String, QueueError)
        /// Its settings file was refused.
        case settings(JobSettingsFile.Invalid)

        public var description: String {
            switch self {
            case .duplicate(let type): return "job type \(type) is registered twice; each type needs exactly one handler"
            case .invalidName(let type, let error): return "job type \(type): \(error)"
            case .settings(let invalid): return invalid.description
            }
        }
    }

    /// Registers `handler`, applying `jobs/<type>.yml` on top of its default settings.
    public mutating func register<Handler: JobHandler>(_ handler: Handler) throws(RegistrationError) {
        let settings = try checkedSettings(Handler.self)
        let none = NoArguments() as? Handler.Arguments  // checked once, not per job
        entries[Handler.type] = Entry(type: Handler.type, settings: settings, requiredServices: Handler.requiredServices, body: .blocking { args, context in
            try handler.perform(try none ?? Self.decode(Handler.Arguments.self, type: Handler.type, from: args), context: context)
        })
    }

    /// Registers `handler`, whose attempts run as tasks, many together on one thread; applies
    /// `jobs/<type>.yml` on top of its default settings.
    public mutating func register<Handler: AsyncJobHandler>(_ handler: Handler) throws(RegistrationError) {
        let settings = try checkedSettings(Handler.self)
        let none = NoArguments() as? Handler.Arguments
        entries[Handler.type] = Entry(type: Handler.type, settings: settings, requiredServices: Handler.requiredServices, body: .async { args, context in
            try await handler.perform(try none ?? Self.decode(Handler.Arguments.self, type: Handler.type, from: args), context: context)
        })
    }

    /// The settings `definition` runs with, after checking that its name is new and valid.
    private func checkedSettings<Definition: JobDefinition>(_: Definition.Type) throws(RegistrationError) -> JobSettings {
        guard entries[Definition.type] == nil else { throw .duplicate(type: Definition.type) }
        let settings: JobSettings
        do throws(JobSettingsFile.Invalid) {
            settings = try effectiveSettings(type: Definition.type, defaults: Definition.defaultSettings)
        } catch {
            throw .settings(error)
        }
        do throws(QueueError) {
            try Names.validateJobType(Definition.type)
            try Names.validateQueue(settings.queue)
        } catch {
            throw .invalidName(type: Definition.type, error)
        }
        return settings
    }

    private func effectiveSettings(type: String, defaults handlerDefaults: JobSettings) throws(JobSettingsFile.Invalid) -> JobSettings {
        var settings = handlerDefaults
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
            settings.directory = settingsDirectory
            try JobSettingsFile.apply(directory: settingsDirectory, type: type, to: &settings)
        }
        return settings
    }

    private static func decode<Arguments: Decodable>(_: Arguments.Type, type: String, from args: JSONValue) throws(InvalidArguments) -> Arguments {
        do {
            return try JSONValueDecoder().decode(Arguments.self, from: args)
        } catch {
            throw InvalidArguments(type: type, reason: describe(error))
        }
    }

    public subscript(type: String) -> Entry? { entries[type] }

    /// Registered type names, sorted.
    public var types: [String] { entries.keys.sorted() }

    /// What `services` lacks for the registered types: each missing configuration with the types
    /// whose jobs will wait for it, sorted.
    public func unconfigured(in services: JobServices) -> [(configuration: String, types: [String])] {
        var waiting: [String: [String]] = [:]
        for entry in entries.values {
            for service in entry.requiredServices where !services.provides(service) { waiting[service.configuration, default: []].append(entry.type) }
        }
        return waiting.keys.sorted().map { ($0, waiting[$0]!.sorted()) }
    }

    /// The dispatcher's defaults for a registered type (its queue, attempts, timeout); nil for
    /// a type not registered here.
    public func enqueueDefaults(for type: String) -> EnqueueDefaults? {
        entries[type]?.settings.enqueueDefaults
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
