import Foundation
import Hummingbird

/// What every request to the admin endpoint must pass before any route runs, so that the API
/// is safe even with no token on loopback:
///
/// - **Host** must name this server (its bind address, `localhost` or a loopback address with
///   its port, or one of `FERRY_ADMIN_HOSTS`): a DNS-rebinding page reaches the server under its
///   own host name and is refused (421).
/// - **Cross-site requests are refused** on every route (403): `Sec-Fetch-Site: cross-site` or
///   `same-site`, or an `Origin` other than the server's own.
/// - **API writes must be `application/json`** (415) when they carry a body or name a content
///   type: a page on another origin can only send a JSON body after a CORS preflight, which this
///   server never grants. (A body-less cross-origin POST still carries `Origin`, refused above.)
///
/// And every response carries `X-Frame-Options: DENY`, a strict Content-Security-Policy (scripts
/// only from this server — the dashboard's one file, never inline — no framing, forms only to
/// this server), `nosniff`, `Referrer-Policy: same-origin` (with
/// `no-referrer`, browsers send `Origin: null` on the dashboard's own form posts) and `no-store`.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// `host:port` values accepted in the Host header, lower-cased.
    let allowedHosts: Set<String>

    init(bindHost: String, port: Int, extraHosts: [String]) {
        var hosts: Set<String> = ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)"]
        let bind = bindHost.contains(":") ? "[\(bindHost)]" : bindHost
        if bindHost != "0.0.0.0", bindHost != "::" { hosts.insert("\(bind.lowercased()):\(port)") }
        for host in extraHosts where !host.isEmpty {
            hosts.insert(host.contains(":") && !host.hasSuffix("]") ? host.lowercased() : "\(host.lowercased()):\(port)")
        }
        allowedHosts = hosts
    }

    static var securityHeaders: HTTPFields {
        [
            .init("X-Frame-Options")!: "DENY",
            .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            .init("X-Content-Type-Options")!: "nosniff",
            .init("Referrer-Policy")!: "same-origin",
            .cacheControl: "no-store",
        ]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            try check(request)
            response = try await next(request, context)
        } catch let error as AdminError {
            response = try error.response(from: request, context: context)
        }
        for field in Self.securityHeaders where response.headers[field.name] == nil { response.headers.append(field) }
        return response
    }

    private func check(_ request: Request) throws {
        let host = (request.head.authority ?? "").lowercased()
        guard allowedHosts.contains(host) || (request.uri.path == "/healthz" && host.isEmpty) else {
            throw AdminError(status: .misdirectedRequest, code: "wrong_host",
                             message: "this server does not answer to the host '\(host.prefix(100))'; add it to FERRY_ADMIN_HOSTS if it is yours")
        }
        if let site = request.headers[.init("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            throw Self.crossSite
        }
        if let origin = request.headers[.origin], Self.authority(ofOrigin: origin) != host {
            throw Self.crossSite
        }
        if request.uri.path.hasPrefix("/api/"), [.post, .put, .patch, .delete].contains(request.method) {
            let type = request.headers[.contentType]?.lowercased()
            let hasBody = (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0 || request.headers[.transferEncoding] != nil
            if type == nil, !hasBody { return }
            guard let type, type == "application/json" || type.hasPrefix("application/json;") else {
                throw AdminError(status: .unsupportedMediaType, code: "json_required",
                                 message: "API writes must send their body as Content-Type: application/json")
            }
        }
    }

    /// `host[:port]` of an Origin header, as a Host header would spell it; nil for `null` or junk.
    static func authority(ofOrigin origin: String) -> String? {
        guard let components = URLComponents(string: origin), var host = components.host?.lowercased(), !host.isEmpty else { return nil }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        return host + (components.port.map { ":\($0)" } ?? "")
    }

    static var crossSite: AdminError {
        AdminError(status: .forbidden, code: "cross_site", message: "cross-site requests are refused; use the dashboard or the API directly")
    }
}
