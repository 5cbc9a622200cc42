public import FerryQueue
import FerryRedis
public import FerryScheduler
import FerrySupport
import Foundation
import Hummingbird
import HummingbirdCore
public import Logging
import Prometheus
public import ServiceLifecycle

/// The admin endpoint: a JSON API under `/api/v1`, `/healthz`, `/readyz` and `/metrics`.
public struct AdminServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Required on every route but `/healthz` when set; required to bind off loopback.
        public var token: String?
        /// Largest request body accepted, in bytes.
        public var bodyLimit: Int
        /// Host names (with or without `:port`) besides the bind address and loopback under which
        /// clients reach this server, e.g. behind a proxy (`FERRY_ADMIN_HOSTS`). Others get 421.
        public var allowedHosts: [String]
        /// A connection that has not sent a complete request head within this time after opening
        /// (or after its last response) is closed: slow or stalled clients cannot pile up.
        public var headerTimeout: Duration
        /// Most connections served at once; further clients wait in the listen backlog.
        public var maxConnections: Int

        public init(
            host: String = "127.0.0.1", port: Int = 7480, token: String? = nil, bodyLimit: Int = 1024 * 1024,
            allowedHosts: [String] = [], headerTimeout: Duration = .seconds(10), maxConnections: Int = 512
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.bodyLimit = bodyLimit
            self.allowedHosts = allowedHosts
            self.headerTimeout = headerTimeout
            self.maxConnections = maxConnections
        }

        /// Parses `FERRY_ADMIN_ADDR` (`host:port`, `:port` or `[::1]:port`).
        public init(address: String, token: String?, allowedHosts: [String] = []) throws(AdminConfigurationError) {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
                throw AdminConfigurationError(message: "FERRY_ADMIN_ADDR must be host:port, like 127.0.0.1:7480; got '\(address)'")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port, token: token.flatMap { $0.isEmpty ? nil : $0 }, allowedHosts: allowedHosts)
        }

        var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.") }

        /// Refuses to expose the API off loopback without a token.
        public func validate() throws(AdminConfigurationError) {
            if !isLoopback, token == nil {
                throw AdminConfigurationError(message: "refusing to serve the admin API on \(host):\(port) without FERRY_ADMIN_TOKEN; set a token or bind to 127.0.0.1")
            }
        }
    }

    public let configuration: Configuration
    let dispatcher: Dispatcher
    let admin: QueueAdmin
    let blocking: Blocking
    let schedules: [ScheduleEntry]
    let postgresReady: (@Sendable () -> String?)?
    let resources: [AdminResource]
    let actions: [AdminAction]
    /// The job types the app registers; nil accepts any type (the registry is not known here).
    let knownTypes: [String]?
    let prometheus: PrometheusCollectorRegistry
    let sessions = DashboardSessions()
    let logger: Logger

    /// - Parameters:
    ///   - schedules: the scheduler's entries, for `GET /api/v1/schedules`.
    ///   - postgresReady: checks PostgreSQL for `/readyz`; returns nil when reachable, else why not.
    ///   - resources: records kept outside Redis to serve under `/api/v1` (``AdminResource``).
    ///   - actions: operations kept outside Redis to serve as `POST /api/v1/<name>` (``AdminAction``).
    ///   - knownTypes: the job types the app registers: enqueues of other types are refused unless
    ///     they say another fleet serves them (`"allow_unknown": true`); nil accepts any type.
    public init(
        configuration: Configuration, dispatcher: Dispatcher, schedules: [ScheduleEntry] = [],
        postgresReady: (@Sendable () -> String?)? = nil, resources: [AdminResource] = [], actions: [AdminAction] = [],
        knownTypes: [String]? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.admin = QueueAdmin(keys: dispatcher.keys)
        self.blocking = Blocking(redis: dispatcher.redis)
        self.schedules = schedules
        self.postgresReady = postgresReady
        self.resources = resources
        self.actions = actions
        self.knownTypes = knownTypes
        self.prometheus = PrometheusCollectorRegistry()
        self.logger = logger
    }

    /// A one-time link that logs a browser in to the dashboard (valid 15 minutes, once); nil
    /// when no token guards the endpoint. Show it to the person starting the server, never log it.
    public func makeLoginLink() -> String? {
        guard configuration.token != nil else { return nil }
        let host = configuration.host == "0.0.0.0" || configuration.host == "::" ? "127.0.0.1" : configuration.host
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(configuration.port)/login?code=\(sessions.makeLoginCode())"
    }

    /// Serves until graceful shutdown (or cancellation) of the service group it runs in; see
    /// ``runUntilSignalled()`` to run it alone.
    public func run() async throws {
        try configuration.validate()
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(configuration.headerTimeout.wholeMilliseconds) * 1_000_000))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "ferry-admin",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)
            ),
            logger: logger
        )
        try await app.run()
    }

    /// Serves in a service group of its own until the process receives SIGTERM or SIGINT.
    public func runUntilSignalled() async throws {
        try await ServiceGroup(configuration: .init(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestGuardMiddleware(bindHost: configuration.host, port: configuration.port, extraHosts: configuration.allowedHosts))
        router.add(middleware: ErrorJSONMiddleware())
        if let token = configuration.token {
            router.add(middleware: BearerTokenMiddleware(token: Array(token.utf8), sessions: sessions))
            LoginController(server: self, token: Array(token.utf8)).addRoutes(to: router)
        }
        HealthController(server: self).addRoutes(to: router)
        Dashboard(server: self).addRoutes(to: router)
        let api = router.group("api/v1")
        QueuesController(server: self).addRoutes(to: api)
        JobsController(server: self).addRoutes(to: api)
        DeadSetController(server: self).addRoutes(to: api)
        ScheduledSetController(server: self, retries: true).addRoutes(to: api)
        ScheduledSetController(server: self, retries: false).addRoutes(to: api)
        WorkersController(server: self).addRoutes(to: api)
        BatchesController(server: self).addRoutes(to: api)
        ResourcesController(server: self).addRoutes(to: api)
        LoginLinksController(server: self).addRoutes(to: api)
        return router
    }

    /// Refuses to enqueue a type the app has no handler for — a typo is answered here, not found
    /// later in the dead set — unless the caller says another fleet serves it.
    func checkKnown(_ type: String, allowUnknown: Bool) throws {
        guard !allowUnknown, let knownTypes, let refusal = Names.unknownType(type, known: knownTypes, allowance: "Send \"allow_unknown\": true") else { return }
        throw AdminError(status: .badRequest, code: "unknown_type", message: refusal)
    }

    /// Reads a request body, refusing more than the configured limit (413); a body that could
    /// not be read for another reason (the client stopped sending, the connection broke) is a
    /// 400 that says so, not a 413.
    func body(of request: Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: configuration.bodyLimit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw AdminError.tooLarge(configuration.bodyLimit)
        } catch {
            logger.notice("a request body could not be read", metadata: ["error": "\(error)"])
            throw AdminError(status: .badRequest, code: "unreadable_body", message: "the request body could not be read completely; send it again")
        }
    }
}

/// The admin server cannot start with this configuration.
public struct AdminConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
