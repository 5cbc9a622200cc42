import ArgumentParser
import FerryWorker

/// `ferry jobs`: the job types this build knows, with their effective settings.
struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the registered job types with their effective settings and where each came from."
    )

    @Option(help: "Directory of jobs/<type>.yml settings.")
    var jobsDir: String = "jobs"

    func run() throws {
        let registry = try FerryEnvironment().registry(jobsDirectory: jobsDir)
        for type in registry.types {
            guard let settings = registry[type]?.settings else { continue }
            func source(_ name: String) -> String { settings.sources[name] ?? "default" }
            print(type)
            print("  queue         \(settings.queue)  (\(source("queue")))")
            print("  max_attempts  \(settings.maxAttempts)  (\(source("max_attempts")))")
            print("  timeout       \(settings.timeout)  (\(source("timeout")))")
            print("  concurrency   \(settings.concurrency.map(String.init) ?? "no limit")  (\(source("concurrency")))")
            print("  rate          \(settings.rate.map(String.init(describing:)) ?? "no limit")  (\(source("rate")))")
            print("  result_ttl    \(settings.resultTTL)  (\(source("result_ttl")))")
            print("  backoff       base \(settings.backoff.base), max \(settings.backoff.max), jitter \(settings.backoff.jitter)  (\(source("backoff")))")
            if !settings.parameters.isEmpty {
                print("  parameters    \(settings.parameters.keys.sorted().joined(separator: ", "))  (\(source("parameters")))")
            }
        }
    }
}
