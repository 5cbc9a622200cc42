import Foundation

/// Delivers SIGTERM, SIGINT and SIGTSTP to a handler on a thread of its own (sigwait), so the
/// handler may take locks and talk to Redis, which a C signal handler may not.
package enum SignalWatcher {
    public enum Signal: Sendable {
        case terminate
        case interrupt
        case toggleQuiet
    }

    /// Blocks the signals in the calling thread — call this first thing in `main`, before any other
    /// thread starts, so every thread inherits the mask — and starts the watching thread.
    public static func start(_ handler: @escaping @Sendable (Signal) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGTSTP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let watched = set
        Thread.detachNewThread {
            var set = watched
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                switch received {
                case SIGTERM: handler(.terminate)
                case SIGINT: handler(.interrupt)
                case SIGTSTP: handler(.toggleQuiet)
                default: break
                }
            }
        }
    }
}
