/// Some fields of a JSON document, named by their paths, read without building the rest: a
/// foreign message (a Celery task's envelope) carries dozens of fields Ferry never looks at, and
/// building them (strings, dictionaries) is most of the cost of reading it.
///
/// `JSONFields(["body", "headers.task", "headers.id"]).values(in: bytes)` returns the three
/// values in that order, nil where a field is absent (or where the object on its path is not an
/// object). The fields passed over are still checked as JSON, as `init(parsing:)` checks unknown
/// fields; a repeated key keeps its first value.
package struct JSONFields: Sendable {
    /// The paths, as given.
    package let paths: [String]
    let root: Node

    /// An object on the paths: the members looked at, by their key's bytes.
    struct Node: Sendable {
        var members: [Member] = []
    }

    struct Member: Sendable {
        let key: [UInt8]
        /// Where its value goes in the result, when the path ends here.
        var field: Int?
        /// The object below it, when a path goes on.
        var node: Node?
    }

    /// `paths`: keys joined by dots (`headers.task`). A path that ends where another goes on
    /// (`headers` and `headers.task`) reads the whole value; the longer one is then nil.
    package init(_ paths: [String]) {
        self.paths = paths
        var root = Node()
        for (field, path) in paths.enumerated() {
            Self.insert(path.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }[...], field: field, into: &root)
        }
        self.root = root
    }

    private static func insert(_ keys: ArraySlice<[UInt8]>, field: Int, into node: inout Node) {
        guard let key = keys.first else { return }
        let position = node.members.firstIndex { $0.key == key } ?? {
            node.members.append(Member(key: key))
            return node.members.count - 1
        }()
        if keys.count == 1 {
            node.members[position].field = node.members[position].field ?? field
        } else {
            var child = node.members[position].node ?? Node()
            insert(keys.dropFirst(), field: field, into: &child)
            node.members[position].node = child
        }
    }

    /// The fields' values in the order of `paths`; nil when the document is not an object.
    package func values(in bytes: [UInt8]) throws(QueueError) -> [JSONValue?]? {
        do {
            return try JobReader.fields(self, in: bytes)
        } catch {
            throw .malformedJob(reason: error.reason)
        }
    }
}
