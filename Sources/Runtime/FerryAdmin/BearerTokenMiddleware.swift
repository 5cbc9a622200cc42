import Hummingbird

/// Requires `Authorization: Bearer <token>` — or, from a browser, a dashboard session cookie —
/// on every route but `/healthz`, `/login` and the login page's stylesheet when a token is set.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    let sessions: DashboardSessions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if ["/healthz", "/login", "/ui/app.css"].contains(request.uri.path) { return try await next(request, context) }
        if let session = DashboardSessions.sessionID(of: request), sessions.isValid(session) { return try await next(request, context) }
        if request.uri.path == "/", request.method == .get, request.headers[.authorization] == nil,
           request.headers[.accept]?.contains("text/html") == true {
            // A browser without a session: send it to the login page.
            return Response(status: .seeOther, headers: [.location: "/login"])
        }
        // The scheme is case-insensitive (RFC 9110 §11.1).
        guard let header = request.headers[.authorization], header.prefix(7).lowercased() == "bearer ",
              Self.constantTimeEqual(Array(header.dropFirst(7).utf8), token)
        else { throw AdminError.unauthorized }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response time says nothing about the token.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
