/// The worker tests enqueue into `default` and count what runs there at once: their workers
/// take that queue alone (a worker told no queues takes every queue its types use; see
/// ``DefaultQueueSelectionTests``), unless a test names queues itself.
func defaultQueue(unless arguments: [String]) -> [String] {
    arguments.contains("--queues") ? [] : ["--queues", "default"]
}
