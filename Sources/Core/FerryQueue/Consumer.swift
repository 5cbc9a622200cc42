/// One taker of jobs inside a worker process: a job thread (by its slot), or the process's isolation
/// lane where a crash suspect runs alone. Each has its own in-flight list per queue, so a
/// consumer always knows exactly what its lists hold.
package struct Consumer: Sendable, Hashable, CustomStringConvertible {
    public enum Lane: Sendable, Hashable {
        case slot(Int)
        case isolated
    }

    public let worker: String
    public let lane: Lane

    public init(worker: String, lane: Lane) {
        self.worker = worker
        self.lane = lane
    }

    /// `<worker>/<slot>` or `<worker>/isolated`: the suffix of its in-flight lists.
    public var name: String { "\(worker)/\(laneName)" }

    public var description: String { name }

    var laneName: String {
        switch lane {
        case .slot(let index): return String(index)
        case .isolated: return "isolated"
        }
    }

    /// The member of the worker's consumer set for `queue`: `<lane>|<queue>`.
    func member(queue: String) -> String { "\(laneName)|\(queue)" }

    /// Parses a member of a worker's consumer set.
    static func parse(member: String, worker: String) -> (Consumer, queue: String)? {
        guard let bar = member.firstIndex(of: "|") else { return nil }
        let lane = member[..<bar]
        let queue = String(member[member.index(after: bar)...])
        guard !queue.isEmpty else { return nil }
        if lane == "isolated" { return (Consumer(worker: worker, lane: .isolated), queue) }
        guard let index = Int(lane), index >= 0 else { return nil }
        return (Consumer(worker: worker, lane: .slot(index)), queue)
    }
}
