import Ferry
public import FerryWorker
public import FerryPostgres
public import FerryQueue
public import Foundation

/// `notifications.digest`: the daily digest mail, at 08:00 in each user's time zone.
///
/// Scheduled hourly (``EmailFamily/schedules``). Each run takes the users whose local time
/// is past the digest hour (`parameters.hour`, default 8) and who have not had today's digest
/// (`users.last_digest_on` < their local date), counts the comments and likes on their posts and
/// the reactions to their stories since their last digest, and bulk-enqueues one `email.send`
/// (template `digest`) per user with something new — unique key and idempotency key
/// `digest:<user>:<local date>` — then marks them done for the day. A second run on the same day,
/// or two at once, enqueues nothing new; a run that dies between enqueueing and marking is
/// repeated by the next hour's run, and the keys keep the mail single. Users without an address,
/// who opted out, or whose time zone PostgreSQL does not know are skipped.
public struct NotificationsDigest: JobHandler {
    public static let type = "notifications.digest"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "maintenance", maxAttempts: 5, timeout: .seconds(1800))

    public init() {}

    /// One batch: the next users with an address who did not opt out, in id order (their zone
    /// checked first, in a materialized step, so an unknown zone is skipped rather than failing the
    /// query), each with whether a digest is due and what happened since their last one.
    static let selectBatch = """
        WITH candidates AS MATERIALIZED (
            SELECT id, handle, email, locale, time_zone, last_digest_at, last_digest_on
            FROM users
            WHERE email IS NOT NULL AND NOT digest_opt_out AND id > $3
              AND time_zone IN (SELECT name FROM pg_timezone_names)
            ORDER BY id
            LIMIT $4
        ), due AS (
            SELECT id, local_time::date AS local_day, COALESCE(last_digest_at, $1::timestamptz - interval '1 day') AS since
            FROM (SELECT c.*, $1::timestamptz AT TIME ZONE c.time_zone AS local_time FROM candidates c) AS l
            WHERE extract(hour FROM local_time) >= $2 AND (last_digest_on IS NULL OR last_digest_on < local_time::date)
        )
        SELECT c.id, d.id IS NOT NULL AS due, c.handle, c.email, c.locale, d.local_day::text AS day,
               CASE WHEN d.id IS NULL THEN 0 ELSE (SELECT count(*) FROM posts p JOIN comments m ON m.post_id = p.id
                 WHERE p.user_id = d.id AND m.user_id <> d.id AND m.created_at > d.since AND m.created_at <= $1) END::int AS comments,
               CASE WHEN d.id IS NULL THEN 0 ELSE (SELECT count(*) FROM posts p JOIN likes l ON l.post_id = p.id
                 WHERE p.user_id = d.id AND l.user_id <> d.id AND l.created_at > d.since AND l.created_at <= $1) END::int AS likes,
               CASE WHEN d.id IS NULL THEN 0 ELSE (SELECT count(*) FROM stories s JOIN story_reactions r ON r.story_id = s.id
                 WHERE s.user_id = d.id AND r.user_id <> d.id AND r.created_at > d.since AND r.created_at <= $1) END::int AS reactions
        FROM candidates c
        LEFT JOIN due d ON d.id = c.id
        ORDER BY c.id
        """

    /// Marks users done for their day; only those not marked meanwhile by another run.
    static let markDone = """
        UPDATE users AS u SET last_digest_on = done.day, last_digest_at = $3
        FROM unnest($1::bigint[], $2::date[]) AS done (id, day)
        WHERE u.id = done.id AND (u.last_digest_on IS NULL OR u.last_digest_on < done.day)
        """

    /// What one run did.
    public struct Outcome: Sendable, Equatable {
        public var considered = 0
        public var enqueued = 0
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let hour = context.settings.parameters["hour"]?.int ?? 8
        guard (0...23).contains(hour) else { throw PermanentJobError("parameters.hour must be from 0 to 23") }
        let now = context.job.tick.map { Date(timeIntervalSince1970: $0) } ?? Date()
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let outcome = try pool.withConnection { db in
            try Self.run(at: now, hour: hour, dispatcher: context.dispatcher, on: db) { outcome in
                context.reportProgress(done: outcome.considered, message: "users considered")
                try context.checkCancellation()
            }
        }
        context.logger.info("digests enqueued", metadata: ["considered": "\(outcome.considered)", "enqueued": "\(outcome.enqueued)"])
        try context.setResult(["considered": .int(Int64(outcome.considered)), "enqueued": .int(Int64(outcome.enqueued))] as [String: JSONValue])
    }

    /// Enqueues the digests due at `now`, a batch of users at a time.
    public static func run(
        at now: Date, hour: Int = 8, batchSize: Int = 1000, dispatcher: Dispatcher, on db: PostgresConnection,
        afterBatch: (Outcome) throws -> Void = { _ in }
    ) throws -> Outcome {
        var outcome = Outcome()
        var cursor: Int64 = 0
        while true {
            let rows = try db.query(selectBatch, [now, hour, cursor, batchSize]).rows
            guard let last = rows.last else { break }
            cursor = try last.decode("id", as: Int64.self)
            var requests: [Dispatcher.JobRequest] = []
            var ids: [String] = [], days: [String] = []
            for row in rows where try row.decode("due", as: Bool.self) {
                let id = try row.decode("id", as: Int64.self)
                let day = try row.decode("day", as: String.self)
                ids.append(String(id))
                days.append(day)
                let comments = try row.decode("comments", as: Int.self), likes = try row.decode("likes", as: Int.self)
                let reactions = try row.decode("reactions", as: Int.self)
                guard comments + likes + reactions > 0 else { continue }
                let key = "digest:\(id):\(day)"
                requests.append(try Dispatcher.JobRequest(EmailSend.self, .init(
                    to: try row.decode("email", as: String.self), template: "digest",
                    vars: .object([
                        "handle": .string(try row.decode("handle", as: String.self)), "day": .string(day),
                        "comments": .int(Int64(comments)), "likes": .int(Int64(likes)), "reactions": .int(Int64(reactions)),
                    ]),
                    locale: try row.decode("locale", as: String.self), idempotencyKey: key
                ), options: EnqueueOptions(uniqueKey: key, uniqueFor: .seconds(86_400))))
            }
            // Enqueued before marked: a run that dies in between is redone, and the keys keep one mail.
            try dispatcher.enqueue(batch: requests)
            if !ids.isEmpty { try db.query(markDone, ["{\(ids.joined(separator: ","))}", "{\(days.joined(separator: ","))}", now]) }
            outcome.considered += rows.count
            outcome.enqueued += requests.count
            try afterBatch(outcome)
        }
        return outcome
    }
}
