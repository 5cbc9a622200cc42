import FerryQueue
import Foundation
import Hummingbird

/// An API error: the status, a stable code and a message a person can act on, sent as
/// `{"error": {"code": …, "message": …}}`. Never carries a stack trace or a secret.
struct AdminError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    static func badRequest(_ message: String) -> AdminError { AdminError(status: .badRequest, code: "bad_request", message: message) }
    static func notFound(_ message: String) -> AdminError { AdminError(status: .notFound, code: "not_found", message: message) }
    static let unauthorized = AdminError(status: .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <FERRY_ADMIN_TOKEN>")
    static func tooLarge(_ limit: Int) -> AdminError {
        AdminError(status: .contentTooLarge, code: "payload_too_large", message: "the request body is over the \(limit)-byte limit")
    }
    /// What a caller is told when an enqueue is refused: 413 for a job over the size limit, 400
    /// for a job that is not valid, and for Redis failing the "try again" of ``BlockingError``.
    static func refusedEnqueue(_ error: QueueError) -> any Error {
        switch error {
        case .payloadTooLarge: AdminError(status: .contentTooLarge, code: "payload_too_large", message: error.description)
        case .invalidJob, .malformedJob: AdminError.badRequest(error.description)
        default: BlockingError(message: error.description)
        }
    }

    static func unavailable(_ message: String) -> AdminError { AdminError(status: .serviceUnavailable, code: "unavailable", message: message) }

    private struct ErrorPage {
        let title: String
        let message: String
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        // A person following a dashboard link or button reads a page, not JSON.
        if !request.uri.path.hasPrefix("/api/"), request.headers[.accept]?.contains("text/html") == true, status != .unauthorized,
           let html = try? DashboardTemplates.render("error", ErrorPage(title: status.reasonPhrase, message: message)) {
            return DashboardTemplates.response(html, status: status)
        }
        let data = try JSONEncoder().encode(Body(error: Body.Detail(code: code, message: message)))
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns any other error into a JSON 500 (or 503 when Redis is unreachable) without internals.
struct ErrorJSONMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as AdminError {
            throw error
        } catch let error as HTTPError {
            throw AdminError(status: error.status, code: error.status == .notFound ? "not_found" : "http_error", message: error.body ?? error.status.reasonPhrase)
        } catch let error as BlockingError {
            // Details (addresses, driver messages) go to the log; the caller learns what to do.
            context.logger.error("admin request failed", metadata: ["error": "\(error.message)"])
            throw AdminError.unavailable("Redis is not answering; try again shortly (details are in the admin server's log)")
        } catch {
            context.logger.error("admin request failed", metadata: ["error": "\(error)"])
            throw AdminError(status: .internalServerError, code: "internal", message: "the request failed; see the admin server's log")
        }
    }
}
