import Dispatch

/// Per-type concurrency limits of one worker process (`concurrency:` in `jobs/<type>.yml`).
///
/// A job thread that takes a job whose type is at its limit waits for a slot (the job stays in
/// flight, so nothing is lost if the process dies); the other job threads keep serving other types.
final class TypeLimits: Sendable {
    private let slots: [String: DispatchSemaphore]

    init(registry: JobRegistry) {
        var slots: [String: DispatchSemaphore] = [:]
        for (type, entry) in registry.entries {
            if let limit = entry.settings.concurrency { slots[type] = DispatchSemaphore(value: limit) }
        }
        self.slots = slots
    }

    /// Waits for a slot of `type`; false if `giveUp` said to stop waiting first.
    func acquire(_ type: String, giveUp: () -> Bool) -> Bool {
        guard let semaphore = slots[type] else { return true }
        while semaphore.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if giveUp() { return false }
        }
        return true
    }

    func release(_ type: String) {
        slots[type]?.signal()
    }
}
