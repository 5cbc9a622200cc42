import FerryQueue
import FerryRedis
import Hummingbird

/// `GET stats`, `GET queues`, `POST queues/{q}/pause|resume`, `DELETE queues/{q}?confirm=true`,
/// `GET rate-limits`.
struct QueueRoutes {
    let server: AdminServer

    func register(on api: RouterGroup<BasicRequestContext>) {
        let admin = server.admin
        api.get("stats") { _, _ in
            try JSONResponse.make(try await server.blocking.withRedis { try admin.queues.stats(on: $0) })
        }

        api.get("rate-limits") { _, _ in
            try JSONResponse.make(["rate_limits": try await server.blocking.withRedis { [keys = server.dispatcher.keys] in try RateLimits(keys: keys).status(on: $0) }])
        }

        api.get("queues") { _, _ in
            struct Queue: Encodable {
                let name: String
                let stats: QueueStats
            }
            let stats = try await server.blocking.withRedis { try admin.queues.stats(on: $0) }
            return try JSONResponse.make(["queues": stats.queues.keys.sorted().map { Queue(name: $0, stats: stats.queues[$0]!) }])
        }

        api.post("queues/{queue}/pause") { _, context in
            let queue = try Self.queueName(context)
            try await server.blocking.withRedis { try admin.paused.pause(queue, on: $0) }
            return try JSONResponse.make(["queue": queue, "status": "paused"])
        }

        api.post("queues/{queue}/resume") { _, context in
            let queue = try Self.queueName(context)
            try await server.blocking.withRedis { try admin.paused.resume(queue, on: $0) }
            return try JSONResponse.make(["queue": queue, "status": "resumed"])
        }

        api.delete("queues/{queue}") { request, context in
            let queue = try Self.queueName(context)
            guard request.uri.queryParameters["confirm"] == "true" else {
                throw AdminError.badRequest("clearing \(queue) deletes its waiting jobs; repeat with ?confirm=true")
            }
            let deleted = try await server.blocking.withRedis { try admin.queues.clear(queue, on: $0) }
            return try JSONResponse.make(["queue": queue, "deleted": "\(deleted)"])
        }
    }

    static func queueName(_ context: BasicRequestContext) throws -> String {
        let raw = context.parameters.get("queue") ?? ""
        let name = raw.removingPercentEncoding ?? raw
        do {
            try Names.validateQueue(name)
        } catch {
            throw AdminError.badRequest("\(error)")
        }
        return name
    }
}
