import Ferry
public import FerryPostgres
public import FerryWorker
public import Foundation

/// `stories.expire`: removes stories past their expiry, with their views and reactions.
///
/// Works in batches (`batch_size`, default 1000) of one short transaction each, so it never holds
/// long locks. Batches take their rows `FOR UPDATE SKIP LOCKED`, so two runs at once split the
/// work instead of waiting on or double-counting each other. Idempotent: a re-run finds nothing.
public struct StoryExpiry: JobHandler {
    public static let type = "stories.expire"
    public static let requiredServices = [RequiredService(PostgresService.self)]
    public static let defaultSettings = JobSettings(queue: "maintenance", maxAttempts: 5, timeout: .seconds(600))

    public init() {}

    public struct Arguments: Codable, Sendable {
        public var batchSize: Int?
        enum CodingKeys: String, CodingKey { case batchSize = "batch_size" }
        public init(batchSize: Int? = nil) { self.batchSize = batchSize }
    }

    /// What one run removed.
    public struct Removed: Sendable, Equatable {
        public var stories = 0
        public var views = 0
        public var reactions = 0

        public init(stories: Int = 0, views: Int = 0, reactions: Int = 0) {
            self.stories = stories
            self.views = views
            self.reactions = reactions
        }
    }

    public func perform(_ arguments: Arguments, context: JobContext) throws {
        let batchSize = arguments.batchSize ?? context.settings.parameters["batch_size"]?.int ?? 1000
        guard (1...100_000).contains(batchSize) else { throw PermanentJobError("batch_size must be between 1 and 100000") }
        let pool = try context.services.require(PostgresService.self, for: Self.type)
        let removed = try pool.withConnection { connection in
            try Self.expire(before: Date(), batchSize: batchSize, on: connection) { removed in
                context.reportProgress(done: removed.stories, message: "stories removed")
                try context.checkCancellation()
            }
        }
        // Every minute on a schedule: a line only when there was something to do.
        context.logger.log(level: removed.stories > 0 ? .info : .debug, "expired stories", metadata: [
            "stories": "\(removed.stories)", "views": "\(removed.views)", "reactions": "\(removed.reactions)",
        ])
    }

    /// One batch: lock up to `$2` expired stories (skipping rows another run holds) and delete
    /// them with their reactions and views in one statement.
    static let expireBatch = """
        WITH doomed AS (
            SELECT id FROM stories
            WHERE expires_at <= $1
            ORDER BY expires_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), reactions AS (
            DELETE FROM story_reactions WHERE story_id IN (SELECT id FROM doomed) RETURNING 1
        ), views AS (
            DELETE FROM story_views WHERE story_id IN (SELECT id FROM doomed) RETURNING 1
        ), removed AS (
            DELETE FROM stories WHERE id IN (SELECT id FROM doomed) RETURNING 1
        )
        SELECT (SELECT count(*) FROM removed)::int AS stories,
               (SELECT count(*) FROM views)::int AS views,
               (SELECT count(*) FROM reactions)::int AS reactions
        """

    /// Removes every story that expired at or before `cutoff`, a batch per transaction.
    /// `afterBatch` sees the running total; throwing from it stops between batches.
    public static func expire(
        before cutoff: Date, batchSize: Int, on connection: PostgresConnection,
        afterBatch: (Removed) throws -> Void = { _ in }
    ) throws -> Removed {
        var total = Removed()
        while true {
            let row = try connection.transaction { tx in
                try tx.query(expireBatch, [cutoff, batchSize]).first
            }
            let stories = try row?.decode("stories", as: Int.self) ?? 0
            total.stories += stories
            total.views += try row?.decode("views", as: Int.self) ?? 0
            total.reactions += try row?.decode("reactions", as: Int.self) ?? 0
            try afterBatch(total)
            if stories < batchSize { return total }
        }
    }
}
