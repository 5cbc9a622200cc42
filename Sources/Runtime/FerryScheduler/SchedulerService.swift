import FerryLifecycle
public import ServiceLifecycle

/// A ``Scheduler`` as a swift-service-lifecycle `Service`: it fires cron entries until graceful
/// shutdown, on a thread of its own.
public struct SchedulerService: Service {
    public let scheduler: Scheduler

    public init(_ scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public func run() async throws {
        let scheduler = scheduler
        try await BlockingService(name: "ferry.scheduler", body: { scheduler.run() }, stop: { scheduler.stop() }).run()
    }
}
