public import FerryRedis

/// What can go wrong in the queue core, with messages a person can act on.
public enum QueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The job's serialized form is larger than the configured limit.
    case payloadTooLarge(bytes: Int, limit: Int)
    /// The arguments are not a JSON object, or the type or queue name is unusable.
    case invalidJob(String)
    /// Bytes in a queue that are not a job (not JSON, or missing fields).
    case malformedJob(reason: String)
    /// No job with this id where it was looked for.
    case jobNotFound(id: String, in: String)
    /// No batch with this id (or it expired a week after completing).
    case batchNotFound(id: String)
    /// Redis failed underneath (connection, timeout, an error reply); the underlying error is kept.
    case redis(RedisError)

    public var description: String {
        switch self {
        case .payloadTooLarge(let bytes, let limit):
            return "the job is \(bytes) bytes, over the \(limit)-byte limit; store large inputs elsewhere (PostgreSQL, object storage) and pass a reference"
        case .invalidJob(let reason): return "invalid job: \(reason)"
        case .malformedJob(let reason): return "malformed job payload: \(reason)"
        case .jobNotFound(let id, let place): return "no job \(id) in \(place)"
        case .batchNotFound(let id): return "no batch \(id); a batch is kept for a week after it completes"
        case .redis(let error): return error.description
        }
    }
}
