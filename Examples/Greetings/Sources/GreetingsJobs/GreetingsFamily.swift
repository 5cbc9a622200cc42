public import Ferry
public import FerryWorker
public import GreetingsDefinitions

/// Running `greet.send`: its result is the greeting.
extension Greet: AsyncJobHandler {
    public func perform(_ arguments: Arguments, context: JobContext) async throws {
        guard !arguments.name.isEmpty, arguments.name.count <= 100 else { throw PermanentJobError("name must be 1 to 100 characters") }
        let greeting = switch arguments.language {
        case "de": "Hallo, \(arguments.name)!"
        case "fr": "Bonjour, \(arguments.name) !"
        case nil, "en": "Hello, \(arguments.name)!"
        case let other?: throw PermanentJobError("no greeting in '\(other)' (en, de, fr)")
        }
        try context.setResult(["greeting": greeting])
    }
}

/// The Greetings family: one job type, no tables, no commands of its own.
public struct GreetingsFamily: JobFamily {
    public let name = "greetings"
    public init() {}

    public func register(in registry: inout JobRegistry, testJobs: Bool) throws(JobRegistry.RegistrationError) {
        try registry.register(Greet())
    }
}
