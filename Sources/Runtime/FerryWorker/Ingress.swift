import FerryQueue

/// Brings jobs into Ferry's queues from another system's broker (Celery's queues), on a thread of
/// its own in every worker process.
///
/// An ingress moves each message into Ferry's structures in one atomic step (a script that takes
/// it from the foreign list only if it is still there, and writes the job), so a process killed at
/// any moment loses or duplicates nothing, and several processes may drain the same lists.
public protocol JobIngress: Sendable {
    /// Shown in logs.
    var name: String { get }
    /// Runs until `isStopping()` is true, mending its own connection errors.
    func run(isStopping: @escaping @Sendable () -> Bool)
}

/// How a job's attempt ended, as told to a ``JobOutcomeObserver``.
public enum JobOutcome: Sendable, Equatable {
    /// It succeeded; its result as JSON, if its handler handed one back.
    case succeeded(result: [UInt8]?)
    /// It failed and will be tried again.
    case retrying(JobFailure)
    /// It went to the dead set.
    case dead(JobFailure)
}

/// Told how each attempt of a job that came through an ingress (``Job/origin`` set) ended, before
/// the outcome is written: the job's word back to the system it came from (a Celery result).
/// A failure to tell is logged; the job's own outcome is written regardless.
public protocol JobOutcomeObserver: Sendable {
    func attemptEnded(_ job: Job, _ outcome: JobOutcome) throws
}
