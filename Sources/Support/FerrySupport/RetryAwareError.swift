/// An error that knows whether trying again can mend it.
///
/// The worker buries a job at once, with the error's message as the reason, when what it threw
/// says ``isPermanent``, and retries it with backoff otherwise: one place decides for every job
/// family. Clients conform their errors (PostgreSQL's by SQLSTATE class); a job can still throw
/// `PermanentJobError` with a reason of its own.
public protocol RetryAwareError: Error {
    /// True when no later attempt can succeed without a change of data, code or configuration
    /// (an integrity violation, a syntax error); false when one may (a lost connection, a
    /// deadlock, a timeout).
    var isPermanent: Bool { get }
}
