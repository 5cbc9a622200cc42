import Hummingbird

/// What an action did, said on the page the browser lands on after it: carried in the redirect
/// as `?notice=<code>` (with `subject=`, a job id or queue name, or `count=`), and only as one of
/// these codes, so a link
/// cannot make the dashboard show text of someone else's choosing.
enum DashboardNotice: String, CaseIterable {
    case retried, deleted, ranNow = "ran", killed, paused, resumed, cleared, scheduleRan = "schedule-ran"
    case bulkRetried = "bulk-retried", bulkRan = "bulk-ran", bulkDeleted = "bulk-deleted"

    /// The query parameters a notice travels in.
    static let parameters: Set<String> = ["notice", "subject", "count"]

    /// The redirect's query items for this notice about `subject` (a job id or a queue name) or
    /// `count` jobs.
    func query(subject: String? = nil, count: Int? = nil) -> [(String, String?)] {
        [("notice", rawValue), ("subject", subject), ("count", count.map(String.init))]
    }

    /// The sentence for a request that carries a notice; nil for none (or an unknown code).
    static func message(for request: Request) -> String? {
        let parameters = request.uri.queryParameters
        return message(code: parameters["notice"].map(String.init), subject: parameters["subject"].map(String.init), count: parameters["count"].map(String.init))
    }

    /// The sentence for a notice's parameters as a redirect carried them.
    static func message(code: String?, subject: String?, count: String?) -> String? {
        guard let code = code.flatMap(DashboardNotice.init(rawValue:)) else { return nil }
        let subject = subject.map { String($0.prefix(200)) }
        let job = subject.map { "Job \($0)" } ?? "The job"
        let queue = subject ?? "the queue"
        let count = count.flatMap { Int($0) }.map { max(0, $0) } ?? 0
        return switch code {
        case .retried: "\(job) was retried: it is back in its queue, its attempts start over."
        case .deleted: "\(job) was deleted."
        case .ranNow: "\(job) was moved to its queue to run now."
        case .killed: "\(job) was moved to the dead set without further attempts."
        case .paused: "Queue \(queue) is paused: workers take none of its jobs until it is resumed; running jobs finish."
        case .resumed: "Queue \(queue) is resumed."
        case .cleared: "Queue \(queue) was cleared: \(Format.count(count, "waiting job")) deleted."
        case .scheduleRan: "\(job) was enqueued now, as the schedule's next tick would."
        case .bulkRetried: "\(Format.count(count, "dead job")) retried."
        case .bulkRan: "\(Format.count(count, "retry", plural: "retries")) moved to their queues to run now."
        case .bulkDeleted: "\(Format.count(count, "job")) deleted."
        }
    }
}
