import FerryQueue
import FerryRedis
import Hummingbird

/// The dead set: `GET dead` (filtered, paged), `POST dead/{id}/retry`, `DELETE dead/{id}`, and
/// in bulk for what a filter selects, `POST dead/retry` and `DELETE dead?confirm=true`.
struct DeadSetController {
    let server: AdminServer

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("dead", use: list)
        api.post("dead/{id}/retry", use: retry)
        api.delete("dead/{id}", use: delete)
        api.post("dead/retry", use: retryAll)
        api.delete("dead", use: deleteAll)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        return try JSONResponse.make(try await server.blocking.withRedis { [admin = server.admin] in try query.deadPage(in: admin, on: $0) })
    }

    @Sendable func retry(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard try await server.blocking.withRedis({ [admin = server.admin] in try admin.dead.retry(id: id, on: $0) }) else { throw AdminError.notFound("no dead job \(id)") }
        return try JSONResponse.make(["id": id, "status": "enqueued"])
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try PathParameters.jobID(context)
        guard try await server.blocking.withRedis({ [admin = server.admin] in try admin.dead.delete(id: id, on: $0) }) else { throw AdminError.notFound("no dead job \(id)") }
        return try JSONResponse.make(["id": id, "status": "deleted"])
    }

    @Sendable func retryAll(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        let count = try await server.blocking.withRedis { [admin = server.admin] redis in
            try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.retry($1, on: redis) ? 1 : 0) }
        }
        return try JSONResponse.make(["retried": count])
    }

    @Sendable func deleteAll(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try ListQuery(request)
        guard request.uri.queryParameters["confirm"] == "true" else {
            throw AdminError.badRequest("this deletes every matching dead job for good; repeat with ?confirm=true")
        }
        let count = try await server.blocking.withRedis { [admin = server.admin] redis in
            try query.dead(in: admin, on: redis).reduce(0) { $0 + (try admin.dead.delete($1, on: redis) ? 1 : 0) }
        }
        return try JSONResponse.make(["deleted": count])
    }
}
