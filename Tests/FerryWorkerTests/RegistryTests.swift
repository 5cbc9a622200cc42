import FerryQueue
import FerryWorker
import Testing

private struct Greet: JobHandler {
    static let type = "greet"
    static let defaultSettings = JobSettings(queue: "mail")
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}

private struct GreetAgain: AsyncJobHandler {
    static let type = "greet"
    func perform(_ arguments: NoArguments, context: JobContext) async throws {}
}

private struct BadName: JobHandler {
    static let type = "bad name"
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}

private struct BadQueue: JobHandler {
    static let type = "bad.queue"
    static let defaultSettings = JobSettings(queue: "a:b")
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}

/// The registry refuses what would leave a worker's behaviour to chance.
@Suite struct RegistryTests {
    @Test func aSecondHandlerForATypeIsRefused() throws {
        var registry = JobRegistry(settingsDirectory: nil)
        try registry.register(Greet())
        #expect(registry.enqueueDefaults(for: "greet")?.queue == "mail")
        #expect(registry.enqueueDefaults(for: "unknown") == nil)
        do {
            try registry.register(GreetAgain())
            Issue.record("a second handler for greet was registered")
        } catch {
            #expect(error.description == "job type greet is registered twice; each type needs exactly one handler")
        }
        #expect(registry.types == ["greet"])
    }

    @Test func namesThatBreakTheRuleAreRefused() {
        var registry = JobRegistry(settingsDirectory: nil)
        #expect(throws: JobRegistry.RegistrationError.self) { try registry.register(BadName()) }
        do {
            try registry.register(BadQueue())
            Issue.record("a queue named a:b was registered")
        } catch {
            #expect(error.description.contains("'a:b' is not a valid queue name"))
        }
        #expect(registry.types.isEmpty)
    }
}

@Suite struct DefaultQueueSelectionTests {
    @Test func aWorkerToldNoQueuesTakesEveryQueueItsTypesUse() throws {
        var registry = JobRegistry(settingsDirectory: nil)
        try registry.register(Greet())
        try registry.register(BadNameFixed())
        let selection = QueueSelection(serving: registry)
        #expect(selection.names == ["default", "mail"])
        #expect(selection.queues.map(\.weight) == [1, 1])
        #expect(QueueSelection(serving: JobRegistry(settingsDirectory: nil)).names == ["default"])
    }
}

private struct BadNameFixed: JobHandler {
    static let type = "fixed.name"
    func perform(_ arguments: NoArguments, context: JobContext) throws {}
}
