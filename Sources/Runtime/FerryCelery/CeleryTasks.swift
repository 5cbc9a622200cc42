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

    /// Two job types name the same Celery task in `celery: {name: …}`.
    public struct Conflict: Error, Sendable, Equatable, CustomStringConvertible {
        public var task: String
        public var types: [String]
        public var description: String {
            "the Celery task '\(task)' is named by celery: {name: …} in \(types.map { "jobs/\($0).yml" }.joined(separator: " and ")); a task runs one job type: keep the name in one of them"
        }
    }

    /// The routes of every type of `registry` (with its `jobs/*.yml` applied).
    public init(registry: JobRegistry) throws(Conflict) {
        try self.init(settings: registry.entries.mapValues(\.settings))
    }

    /// The routes of types with these settings. A name given in `celery: {name: …}` wins over a
    /// type that only bears that name (so `ferry.count` can take the messages of a Celery task
    /// called `ferry.record`); two types giving the same name are a conflict.
    init(settings: [String: JobSettings]) throws(Conflict) {
        var routes: [String: Route] = [:]
        for (type, settings) in settings where settings.celeryName == nil { routes[type] = Route(type: type, settings: settings) }
        var named: [String: String] = [:]
        for (type, settings) in settings.sorted(by: { $0.key < $1.key }) {
            guard let name = settings.celeryName else { continue }
            if let other = named[name] { throw Conflict(task: name, types: [other, type]) }
            named[name] = type
            routes[name] = Route(type: type, settings: settings)
        }
        self.routes = routes
    }

    /// The Ferry job a message becomes: the task id as its id, keyword arguments and the named
    /// positional ones as its arguments, on its type's queue; `eta` as its due time, `expires`,
    /// the time limit and Celery's retry count carried over.
    public func job(for message: CeleryMessage, now: Date = Date()) throws(CeleryMessage.Refusal) -> Job {
        func refuse(_ reason: String) -> CeleryMessage.Refusal { .init(id: message.id, task: message.task, reason: reason) }
        let route = try self.route(message.task, refuse: refuse)
        let arguments = try bind(message.task, route: route, args: message.args, kwargs: message.kwargs, refuse: refuse)
        let attempt = min(message.retries + 1, JobRules.attempts.upperBound)
        var job = Job(
            id: message.id, type: route.type, queue: route.settings.queue, args: .object(arguments),
            attempt: attempt, maxAttempts: max(route.settings.maxAttempts, attempt),
            createdAt: now.timeIntervalSince1970, runAt: message.eta.map(\.timeIntervalSince1970).flatMap { $0 > now.timeIntervalSince1970 ? $0 : nil },
            timeoutS: message.timeLimit, expiresAt: message.expires?.timeIntervalSince1970,
            origin: .object(["protocol": "celery", "task": .string(message.task), "result": .bool(!message.ignoreResult)])
        )
        job.then = try chain(message.chain[...], refuse: refuse)
        if let then = job.then {
            do throws(QueueError) { _ = try Chain.link(then) } catch { throw refuse("the chain: \(error)") }
        }
        do throws(QueueError) { try job.checkRanges() } catch { throw refuse("\(error)") }
        return job
    }

    func route(_ task: String, refuse: (String) -> CeleryMessage.Refusal) throws(CeleryMessage.Refusal) -> Route {
        guard let route = routes[task] else {
            throw refuse("no job type runs the Celery task '\(task)': name it with celery: {name: \"\(task)\"} in jobs/<type>.yml (types here: \(routes.values.map(\.type).sorted().joined(separator: ", ")))")
        }
        return route
    }

    /// Keyword arguments, and positional ones bound to the type's names (from `first` on: a chain's
    /// next task takes the previous result as its first positional argument).
    func bind(
        _ task: String, route: Route, args: [JSONValue], kwargs: [String: JSONValue], first: Int = 0, refuse: (String) -> CeleryMessage.Refusal
    ) throws(CeleryMessage.Refusal) -> [String: JSONValue] {
        var arguments = kwargs
        let names = Array(route.settings.celeryArguments.dropFirst(first))
        guard args.count <= names.count else {
            let all = route.settings.celeryArguments
            let named = all.isEmpty ? "names none" : "names \(all.count) (\(all.joined(separator: ", ")))"
            let given = args.count + first
            throw refuse("\(task) got \(given) positional argument\(given == 1 ? "" : "s")\(first > 0 ? " (the previous task's result first)" : "") and celery: {args: […]} in jobs/\(route.type).yml \(named); send keyword arguments or name them there")
        }
        for (name, value) in zip(names, args) {
            guard arguments[name] == nil else { throw refuse("argument '\(name)' of \(task) is given both by position and by keyword") }
            arguments[name] = value
        }
        return arguments
    }

    /// A Celery chain as Ferry's (``Chain``): each task a `then` link with its id and origin; the
    /// previous result goes to the first name of `celery: {args: […]}` (else `parent_result`),
    /// or nowhere for an immutable signature.
    func chain(_ signatures: ArraySlice<CeleryMessage.Signature>, refuse: (String) -> CeleryMessage.Refusal) throws(CeleryMessage.Refusal) -> JSONValue? {
        guard let next = signatures.first else { return nil }
        let route = try self.route(next.task, refuse: refuse)
        let takesResult = !next.immutable
        let names = route.settings.celeryArguments
        let arguments = try bind(next.task, route: route, args: next.args, kwargs: next.kwargs, first: takesResult && !names.isEmpty ? 1 : 0, refuse: refuse)
        var link: [String: JSONValue] = [
            "type": .string(route.type), "args": .object(arguments),
            "origin": ["protocol": "celery", "task": .string(next.task), "result": true],
            "result_as": takesResult ? (names.first.map(JSONValue.string) ?? "parent_result") : .null,
        ]
        if let id = next.id { link["id"] = .string(id) }
        if let then = try chain(signatures.dropFirst(), refuse: refuse) { link["then"] = then }
        return .object(link)
    }
}
