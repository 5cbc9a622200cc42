import FerryQueue
import FerryRedis
import Hummingbird

/// Retries (`retries`) or delayed jobs (`scheduled`) in the scheduled set: `GET` (filtered,
/// paged), `POST …/{id}/run`, `POST …/{id}/kill` (to the dead set now), `DELETE …/{id}`, and in bulk for what a filter selects, `POST …/run`
/// and `DELETE …?confirm=true`.
struct ScheduledSetController {
    let server: AdminServer
    /// Retries (true) or delayed jobs (false).
    let retries: Bool

    var path: String { retries ? "retries" : "scheduled" }
    var noun: String { retries ? "retry" : "scheduled job" }

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get(RouterPath(path), use: list)
        api.post(RouterPath("\(path)/run"), use: runAll)
        api.delete(RouterPath(path), use: deleteAll)
        api.post(RouterPath("\(path)/{id}/run"), use: run)
        api.post(RouterPath("\(path)/{id}/kill"), use: kill)
        api.delete(RouterPath("\(path)/{id}"), use: delete)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        return try JSONResponse.make(try await server.blocking.withRedis { [admin = server.admin, retries] in try query.waitingPage(retries: retries, in: admin, on: $0) })
    }

    @Sendable func runAll(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        let count = try await server.blocking.withRedis { [admin = server.admin, retries] redis in
            try query.waiting(retries: retries, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.runNow($1, on: redis) ? 1 : 0) }
        }
        return try JSONResponse.make(["enqueued": count])
    }

    @Sendable func deleteAll(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        guard request.uri.queryParameters["confirm"] == "true" else {
            throw AdminError.badRequest("this deletes every matching job for good; repeat with ?confirm=true")
        }
        let count = try await server.blocking.withRedis { [admin = server.admin, retries] redis in
            try query.waiting(retries: retries, in: admin, on: redis).reduce(0) { $0 + (try admin.scheduled.delete($1, on: redis) ? 1 : 0) }
        }
        return try JSONResponse.make(["deleted": count])
    }

    @Sendable func run(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard try await server.blocking.withRedis({ [admin = server.admin, retries] in try admin.scheduled.run(id: id, retry: retries, on: $0) }) else {
            throw AdminError.notFound("no \(noun) \(id)")
        }
        return try JSONResponse.make(["id": id, "status": "enqueued"])
    }

    @Sendable func kill(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard try await server.blocking.withRedis({ [admin = server.admin, retries] in try admin.scheduled.kill(id: id, retry: retries, on: $0) }) else {
            throw AdminError.notFound("no \(noun) \(id)")
        }
        return try JSONResponse.make(["id": id, "status": "dead"])
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard try await server.blocking.withRedis({ [admin = server.admin, retries] in try admin.scheduled.delete(id: id, retry: retries, on: $0) }) else {
            throw AdminError.notFound("no \(noun) \(id)")
        }
        return try JSONResponse.make(["id": id, "status": "deleted"])
    }
}
