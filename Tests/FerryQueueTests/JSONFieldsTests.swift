import FerryQueue
import FerryTestSupport
import Foundation
import Testing

/// Fields read by path without building the rest, against the whole document read and walked.
@Suite struct JSONFieldsTests {
    let fields = JSONFields(["a", "b.c", "b.d.e", "b.c2", "é", "x.y"])

    /// What walking the fully parsed document gives for each path.
    func walked(_ bytes: [UInt8]) throws -> [JSONValue?]? {
        guard case .object = try JSONValue(parsing: bytes) else { return nil }
        let document = try JSONValue(parsing: bytes)
        return fields.paths.map { path in
            var value: JSONValue? = document
            for key in path.split(separator: ".") {
                guard case .object(let members)? = value else { return nil }
                value = members[String(key)]
            }
            return value
        }
    }

    @Test func pathsAreReadInOrderAndTheRestPassedOver() throws {
        let document = #"{"z": {"deep": [1, {"a": 9}]}, "b": {"c": "yes", "d": {"e": [1, 2.5, null]}, "c2": false}, "a": 1, "\u00e9": "escaped key", "x": 3}"#
        let values = try #require(try fields.values(in: Array(document.utf8)))
        #expect(values == [1, "yes", [1, 2.5, nil], false, "escaped key", nil])
        // A repeated key keeps its first value; a document that is not an object has no fields.
        #expect(try fields.values(in: Array(#"{"a": 1, "a": 2, "b": {"c": 3}, "b": {"c": 4, "c2": 5}}"#.utf8)) == [1, 3, nil, 5, nil, nil])
        #expect(try fields.values(in: Array("[1, 2]".utf8)) == nil)
        #expect(try fields.values(in: Array(#""a""#.utf8)) == nil)
        // What is passed over is still checked as JSON.
        for broken in [#"{"z": [1, }"#, #"{"a": 1,}"#, #"{"z": tru}"#, #"{"a": 1} x"#, "{"] {
            #expect(throws: QueueError.self, "\(broken)") { try fields.values(in: Array(broken.utf8)) }
        }
    }

    @Test func randomDocumentsGiveWhatWalkingThemGives() throws {
        var generator = SeededGenerator(seed: 41)
        let keys = ["a", "b", "c", "c2", "d", "e", "é", "x", "y", "q"]
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator) {
            case 0: return .null
            case 1: return .int(Int64.random(in: -1000...1000, using: &generator))
            case 2: return .string(keys.randomElement(using: &generator)! + "\"\\")
            case 3: return .bool(true)
            case 4: return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...5, using: &generator) { members[keys.randomElement(using: &generator)!] = value(depth + 1) }
                return .object(members)
            }
        }
        for _ in 0..<2000 {
            var top: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &generator) { top[keys.randomElement(using: &generator)!] = value(1) }
            let bytes = Array(try JSONEncoder().encode(Bool.random(using: &generator) ? .object(top) : value(0)))
            #expect(try fields.values(in: bytes) == (try walked(bytes)), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }
}
