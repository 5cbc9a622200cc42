import FerryQueue
import Foundation
import Hummingbird

extension Dashboard {
    /// `GET /limits`: each rate-limited job type, its budgets, what they have free and who waits.
    struct LimitsController {
        let server: AdminServer

        func addRoutes(to router: Router<BasicRequestContext>) {
            router.get("/limits", use: limits)
        }

        @Sendable func limits(_ request: Request, context: BasicRequestContext) async throws -> Response {
            let (counts, limits) = try await server.blocking.withRedis { [server] redis in
                (try PageCounts.read(server, on: redis), try RateLimits(keys: server.dispatcher.keys).status(on: redis))
            }
            return try DashboardTemplates.page(PageFrame(title: "Rate limits", current: "/limits", counts: counts, notice: DashboardNotice.message(for: request)), "limits", LimitsView(limits))
        }
    }
}

struct LimitsView {
    /// One budget of a limiter (a limiter without budgets yet shows as one row of dashes).
    struct Budget {
        let type: String
        let limit: String
        let key: String
        let available: String
        let waiting: String
        let heldUntil: TimeView?
    }

    let budgets: [Budget]

    init(_ limits: [RateLimiterStatus]) {
        budgets = limits.flatMap { limiter in
            limiter.budgets.isEmpty
                ? [Budget(type: limiter.type, limit: limiter.limit.description, key: "—", available: "—", waiting: "0", heldUntil: nil)]
                : limiter.budgets.map { budget in
                    Budget(type: limiter.type, limit: limiter.limit.description, key: budget.key, available: Format.number(budget.available),
                           waiting: Format.number(budget.waiting), heldUntil: budget.heldUntil.map { TimeView($0) })
                }
        }
    }
}
