import Foundation
import Hummingbird
import Synchronization

/// Browser sessions for the dashboard when a token guards the admin endpoint: a browser cannot
/// add an `Authorization` header to a link or a form, so a person logs in once — by pasting the
/// token into `/login`, or by opening the one-time link `ferry admin --login-link` prints — and
/// gets an `HttpOnly`, `SameSite=Strict` session cookie. Sessions live in this process's memory
/// and end after 12 hours, on logout or when the server restarts.
final class DashboardSessions: Sendable {
    static let cookieName = "ferry_session"
    static let lifetime: Duration = .seconds(12 * 3600)
    static let loginCodeLifetime: Duration = .seconds(15 * 60)

    private struct State {
        var sessions: [String: ContinuousClock.Instant] = [:]
        var loginCode: (code: String, expires: ContinuousClock.Instant)?
    }

    private let state = Mutex(State())

    /// A new random secret: 32 bytes as hex, from the system's secure generator.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Makes the one-time login code (replacing any earlier one) and returns it.
    func makeLoginCode() -> String {
        let code = Self.randomSecret()
        state.withLock { $0.loginCode = (code, .now + Self.loginCodeLifetime) }
        return code
    }

    /// Spends the one-time login code: true once, for the right code, before it expires.
    func redeem(code: String) -> Bool {
        state.withLock { state in
            guard let current = state.loginCode, ContinuousClock.now < current.expires,
                  BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual(Array(code.utf8), Array(current.code.utf8))
            else { return false }
            state.loginCode = nil
            return true
        }
    }

    func open() -> String {
        let id = Self.randomSecret()
        state.withLock { state in
            let now = ContinuousClock.now
            state.sessions = state.sessions.filter { $0.value > now }
            state.sessions[id] = now + Self.lifetime
        }
        return id
    }

    func isValid(_ id: String) -> Bool {
        state.withLock { state in
            guard let expires = state.sessions[id] else { return false }
            return ContinuousClock.now < expires
        }
    }

    func close(_ id: String) {
        _ = state.withLock { $0.sessions.removeValue(forKey: id) }
    }

    /// The session id a request carries in its cookie, if any.
    static func sessionID(of request: Request) -> String? {
        for field in request.headers where field.name == .cookie {
            for pair in field.value.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    static func cookie(_ id: String, maxAge: Int) -> String {
        "\(cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)"
    }
}

/// `/login` and `/logout`: the only routes that need no token (when one is set).
struct LoginController {
    let server: AdminServer
    let token: [UInt8]

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/login", use: loginPage)
        router.post("/login", use: logIn)
        router.post("/logout", use: logOut)
    }

    /// The login form, or a one-time link's code spent for a session.
    @Sendable func loginPage(_ request: Request, context: BasicRequestContext) async throws -> Response {
        if let code = request.uri.queryParameters["code"] {
            guard server.sessions.redeem(code: String(code)) else {
                return try Self.page(status: .unauthorized, message: "This login link has been used or has expired. Paste the admin token instead.")
            }
            return Self.signedIn(server.sessions.open())
        }
        return try Self.page(status: .ok, message: nil)
    }

    @Sendable func logIn(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await server.body(of: request)
        let form = String(decoding: body, as: UTF8.self)
        let supplied = form.split(separator: "&").compactMap { pair -> String? in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "token" else { return nil }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }.first ?? ""
        guard BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual(Array(supplied.utf8), token) else {
            return try Self.page(status: .unauthorized, message: "That is not the admin token.")
        }
        return Self.signedIn(server.sessions.open())
    }

    @Sendable func logOut(_ request: Request, context: BasicRequestContext) async throws -> Response {
        if let id = DashboardSessions.sessionID(of: request) { server.sessions.close(id) }
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.headers[.setCookie] = DashboardSessions.cookie("", maxAge: 0)
        return response
    }

    static func signedIn(_ id: String) -> Response {
        var response = Response(status: .seeOther, headers: [.location: "/"])
        response.headers[.setCookie] = DashboardSessions.cookie(id, maxAge: Int(DashboardSessions.lifetime.components.seconds))
        return response
    }

    static func page(status: HTTPResponse.Status, message: String?) throws(AdminError) -> Response {
        DashboardTemplates.response(try DashboardTemplates.render("login", LoginView(message: message)), status: status)
    }

    struct LoginView {
        /// Why the last attempt failed.
        let message: String?
    }
}

/// `POST /api/v1/login-links`: a new one-time dashboard login link from the running server (it
/// holds the sessions, so only it can issue links its login page accepts). Needs the token, like
/// every API route; `ferry admin --login-link` calls it when a server already listens.
struct LoginLinksController {
    let server: AdminServer

    func addRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.post("login-links", use: create)
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard let link = server.makeLoginLink() else {
            throw AdminError(status: .conflict, code: "no_token", message: "no token guards this server: the dashboard opens without logging in")
        }
        return try JSONResponse.make(["link": link, "valid_for": "15 minutes, once"], status: .created)
    }
}
