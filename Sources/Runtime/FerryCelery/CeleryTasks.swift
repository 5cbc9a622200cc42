public import FerryQueue
public import FerryWorker
public import Foundation

/// Which job type runs each Celery task name, and how its positional arguments are named: a
/// type's own name by default, or `celery: {name: …, args: […]}` in `jobs/<type>.yml`.
public struct CeleryTasks: Sendable {
    struct Route: Sendable {
        var type: String
        var settings: JobSettings
    }

    let routes: [String: Route]

    /// The routes of every type of `registry` (with its `jobs/*.yml` applied).
    public init(registry: JobRegistry) {
        self.init(settings: registry.entries.mapValues(\.settings))
    }

    /// The routes of types with these settings.
    init(settings: [String: JobSettings]) {
        var routes: [String: Route] = [:]
        for (type, settings) in settings { routes[settings.celeryName ?? type] = Route(type: type, settings: settings) }
        self.routes = routes
    }

    /// The Ferry job a message becomes: the task id as its id, keyword arguments and the named
    /// positional ones as its arguments, on its type's queue; `eta` as its due time, `expires`,
    /// the time limit and Celery's retry count carried over.
    public func job(for message: CeleryMessage, now: Date = Date()) throws(CeleryMessage.Refusal) -> Job {
        func refuse(_ reason: String) -> CeleryMessage.Refusal { .init(id: message.id, task: message.task, reason: reason) }
        guard let route = routes[message.task] else {
            throw refuse("no job type runs the Celery task '\(message.task)': name it with celery: {name: \"\(message.task)\"} in jobs/<type>.yml (types here: \(routes.values.map(\.type).sorted().joined(separator: ", ")))")
        }
        var arguments = message.kwargs
        let names = route.settings.celeryArguments
        guard message.args.count <= names.count else {
            let named = names.isEmpty ? "names none" : "names \(names.count) (\(names.joined(separator: ", ")))"
            throw refuse("\(message.task) got \(message.args.count) positional argument\(message.args.count == 1 ? "" : "s") and celery: {args: […]} in jobs/\(route.type).yml \(named); send keyword arguments or name them there")
        }
        for (name, value) in zip(names, message.args) {
            guard arguments[name] == nil else { throw refuse("argument '\(name)' of \(message.task) is given both by position and by keyword") }
            arguments[name] = value
        }
        let attempt = min(message.retries + 1, JobRules.attempts.upperBound)
        let job = Job(
            id: message.id, type: route.type, queue: route.settings.queue, args: .object(arguments),
            attempt: attempt, maxAttempts: max(route.settings.maxAttempts, attempt),
            createdAt: now.timeIntervalSince1970, runAt: message.eta.map(\.timeIntervalSince1970).flatMap { $0 > now.timeIntervalSince1970 ? $0 : nil },
            timeoutS: message.timeLimit, expiresAt: message.expires?.timeIntervalSince1970,
            origin: .object(["protocol": "celery", "task": .string(message.task), "result": .bool(!message.ignoreResult)])
        )
        do throws(QueueError) { try job.checkRanges() } catch { throw refuse("\(error)") }
        return job
    }
}
