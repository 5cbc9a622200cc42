import FerryQueue

/// Which queues a worker takes jobs from, and how it chooses between them.
///
/// `critical:5,default:3,low:1` — weighted: each fetch tries the queues in a random order where a
/// queue of weight 5 comes first five times as often as one of weight 1, so no queue starves.
/// With `strict`, the order is always as written: a lower queue runs only when those above are empty.
public struct QueueSelection: Sendable, Equatable {
    public var queues: [(name: String, weight: Int)]
    public var strict: Bool

    public static func == (lhs: QueueSelection, rhs: QueueSelection) -> Bool {
        lhs.strict == rhs.strict && lhs.queues.map(\.name) == rhs.queues.map(\.name) && lhs.queues.map(\.weight) == rhs.queues.map(\.weight)
    }

    public init(queues: [(name: String, weight: Int)], strict: Bool = false) {
        self.queues = queues
        self.strict = strict
    }

    /// Parses `name[:weight],…`.
    public init(parsing text: String, strict: Bool = false) throws(QueueSelectionError) {
        var queues: [(String, Int)] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":")
            let name = pieces.first.map { String($0).trimmingWhitespace() } ?? ""
            guard !name.isEmpty, pieces.count <= 2 else { throw QueueSelectionError(text: text, reason: "'\(part)' is not name or name:weight") }
            var weight = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value >= 1, value <= 1000 else {
                    throw QueueSelectionError(text: text, reason: "the weight of \(name) must be a whole number from 1 to 1000")
                }
                weight = value
            }
            guard Names.isValid(name) else {
                throw QueueSelectionError(text: text, reason: "'\(name)' is not a queue name: use 1 to \(Names.maximumLength) ASCII letters, digits, '.', '_' or '-'")
            }
            guard !queues.contains(where: { $0.0 == name }) else { throw QueueSelectionError(text: text, reason: "\(name) is listed twice") }
            queues.append((name, weight))
        }
        guard !queues.isEmpty else { throw QueueSelectionError(text: text, reason: "no queue named") }
        self.init(queues: queues, strict: strict)
    }

    /// Every queue the types of `registry` go to by their settings, and `default`, each of
    /// weight 1: what a worker takes when it is not told which queues, so that no registered
    /// type waits for a worker that never looks at its queue.
    public init(serving registry: JobRegistry, strict: Bool = false) {
        let used = Set(registry.entries.values.map(\.settings.queue)).subtracting(["default"])
        self.init(queues: [("default", 1)] + used.sorted().map { ($0, 1) }, strict: strict)
    }

    public var names: [String] { queues.map(\.name) }

    /// The order to try the queues in for one fetch.
    public func order<Generator: RandomNumberGenerator>(using generator: inout Generator) -> [String] {
        if strict || queues.count == 1 { return names }
        var remaining = queues
        var order: [String] = []
        while !remaining.isEmpty {
            let total = remaining.reduce(0) { $0 + $1.weight }
            var pick = Int.random(in: 0..<total, using: &generator)
            let index = remaining.firstIndex { entry in
                if pick < entry.weight { return true }
                pick -= entry.weight
                return false
            }!
            order.append(remaining.remove(at: index).name)
        }
        return order
    }
}

public struct QueueSelectionError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid --queues '\(text)': \(reason)" }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
