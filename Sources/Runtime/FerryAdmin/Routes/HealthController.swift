import FerryQueue
import FerryRedis
import Hummingbird
import Prometheus

/// `/healthz` (the process is up), `/readyz` (Redis and PostgreSQL answer), `/metrics` (Prometheus).
struct HealthController {
    let server: AdminServer

    struct Status: Encodable {
        let status: String
        var checks: [String: String] = [:]
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz", use: health)
        router.get("readyz", use: ready)
        router.get("metrics", use: metrics)
    }

    @Sendable func health(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try JSONResponse.make(Status(status: "ok"))
    }

    @Sendable func ready(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var checks: [String: String] = [:]
        do {
            try await server.blocking.withRedis { try $0.ping() }
            checks["redis"] = "ok"
        } catch {
            // Addresses and driver messages stay in the log.
            context.logger.error("Redis is not ready", metadata: ["error": "\(error)"])
            checks["redis"] = "unreachable"
        }
        if let postgresReady = server.postgresReady {
            checks["postgres"] = await Task.detached { postgresReady() ?? "ok" }.value
        }
        let ready = checks.values.allSatisfy { $0 == "ok" }
        return try JSONResponse.make(Status(status: ready ? "ready" : "not ready", checks: checks), status: ready ? .ok : .serviceUnavailable)
    }

    @Sendable func metrics(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let stats = try await server.blocking.withRedis { [admin = server.admin] in try admin.queues.stats(on: $0) }
        let registry = server.prometheus
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: unit, helpText: help), labels: labels).set(value)
        }
        for (queue, numbers) in stats.queues {
            let labels = [("queue", queue)]
            gauge("ferry_queue_ready", "jobs", "Jobs waiting in the ready list", labels, Double(numbers.ready))
            gauge("ferry_queue_scheduled", "jobs", "Delayed jobs and retries not yet due", labels, Double(numbers.scheduled))
            gauge("ferry_queue_retries", "jobs", "Of the scheduled jobs, the retries (failed, to run again)", labels, Double(numbers.retries))
            gauge("ferry_queue_in_flight", "jobs", "Jobs taken by workers and not yet settled", labels, Double(numbers.inFlight))
            gauge("ferry_queue_orphaned", "jobs", "Jobs in flight on workers whose heartbeat stopped, awaiting recovery", labels, Double(numbers.orphaned))
            gauge("ferry_queue_dead", "jobs", "Jobs in the dead set", labels, Double(numbers.dead))
            gauge("ferry_queue_dead_trimmed", "jobs", "Dead jobs dropped by the dead set's age and size limits (counter kept in Redis)", labels, Double(numbers.trimmed))
            gauge("ferry_queue_latency", "seconds", "Age of the oldest ready job", labels, numbers.latencyS)
            gauge("ferry_queue_processed", "jobs", "Jobs finished successfully (counter kept in Redis)", labels, Double(numbers.processed))
            gauge("ferry_queue_failed", "attempts", "Failed attempts (counter kept in Redis)", labels, Double(numbers.failed))
            gauge("ferry_queue_paused", "flag", "1 while the queue is paused", labels, numbers.paused ? 1 : 0)
        }
        gauge("ferry_workers", "processes", "Live worker processes", [], Double(stats.workers))
        let limiters = try await server.blocking.withRedis { [keys = server.dispatcher.keys] in try RateLimits(keys: keys).status(on: $0) }
        for limiter in limiters {
            for budget in limiter.budgets {
                let labels = [("type", limiter.type), ("key", budget.key)]
                gauge("ferry_rate_limit_available", "jobs", "Jobs of a rate-limited budget that could start at once now", labels, Double(budget.available))
                gauge("ferry_rate_limit_waiting", "jobs", "Jobs parked until their rate-limited budget frees a token", labels, Double(budget.waiting))
                gauge("ferry_rate_limit_held", "flag", "1 while a handler's \"limited until\" holds the budget", labels, budget.heldUntil == nil ? 0 : 1)
            }
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
}
