import FerryQueue
import FerryRedis
import Hummingbird

/// `GET stats`, `GET queues`, `POST queues/{q}/pause|resume`, `DELETE queues/{q}?confirm=true`,
/// `GET rate-limits`.
struct QueuesController {
    let server: AdminServer

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("stats", use: stats)
        api.get("rate-limits", use: rateLimits)
        api.get("queues", use: queues)
        api.post("queues/{queue}/pause", use: pause)
        api.post("queues/{queue}/resume", use: resume)
        api.delete("queues/{queue}", use: clear)
    }

    @Sendable func stats(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try JSONResponse.make(try await server.blocking.withRedis { [admin = server.admin] in try admin.queues.stats(on: $0) })
    }

    @Sendable func rateLimits(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try JSONResponse.make(["rate_limits": try await server.blocking.withRedis { [keys = server.dispatcher.keys] in try RateLimits(keys: keys).status(on: $0) }])
    }

    @Sendable func queues(_ request: Request, context: BasicRequestContext) async throws -> Response {
        struct Queue: Encodable {
            let name: String
            let stats: QueueStats
        }
        let stats = try await server.blocking.withRedis { [admin = server.admin] in try admin.queues.stats(on: $0) }
        return try JSONResponse.make(["queues": stats.queues.sorted { $0.key < $1.key }.map { Queue(name: $0.key, stats: $0.value) }])
    }

    @Sendable func pause(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let queue = try PathParameters.queue(context)
        try await server.blocking.withRedis { [admin = server.admin] in try admin.paused.pause(queue, on: $0) }
        return try JSONResponse.make(["queue": queue, "status": "paused"])
    }

    @Sendable func resume(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let queue = try PathParameters.queue(context)
        try await server.blocking.withRedis { [admin = server.admin] in try admin.paused.resume(queue, on: $0) }
        return try JSONResponse.make(["queue": queue, "status": "resumed"])
    }

    @Sendable func clear(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let queue = try PathParameters.queue(context)
        guard request.uri.queryParameters["confirm"] == "true" else {
            throw AdminError.badRequest("clearing \(queue) deletes its waiting jobs; repeat with ?confirm=true")
        }
        let deleted = try await server.blocking.withRedis { [admin = server.admin] in try admin.queues.clear(queue, on: $0) }
        return try JSONResponse.make(["queue": queue, "deleted": "\(deleted)"])
    }
}
