import FerryQueue
import FerryTestSupport
import Foundation
import Testing

/// The arguments decoder against Foundation's `JSONDecoder` on the JSON text of the same value
/// (what it replaced on the hot path): on thousands of random argument objects — members of the
/// right type, the wrong type, null, missing, numbers out of range — both decode the same value,
/// or both fail with the same kind of error at the same coding path.
@Suite struct JSONValueDecoderTests {
    enum Side: String, Decodable, Equatable { case buy, sell }

    struct Leg: Decodable, Equatable {
        var symbol: String
        var quantity: Int32
    }

    struct Arguments: Decodable, Equatable {
        var key: String
        var count: Int
        var small: UInt8?
        var ratio: Double
        var flag: Bool?
        var tags: [String]
        var limits: [String: Int64]?
        var leg: Leg?
        var legs: [Leg]?
        var side: Side?
        var price: Decimal?
        var url: URL?
        var extra: JSONValue?
        var matrix: [[Int]]?
    }

    /// A value for a member: usually one of the right shape, sometimes anything.
    func member(_ name: String, _ generator: inout SeededGenerator) -> JSONValue? {
        if Int.random(in: 0..<40, using: &generator) == 0 { return nil }
        if Int.random(in: 0..<40, using: &generator) == 0 { return anything(&generator) }
        func integer() -> JSONValue {
            switch Int.random(in: 0..<60, using: &generator) {
            case 0: .int(Int64.random(in: Int64.min...Int64.max, using: &generator))
            case 1...8: .double(Double(Int.random(in: -1000...1000, using: &generator)))
            case 9: .double(0.5)
            case 10: .double(1e300)
            default: .int(Int64.random(in: -300...300, using: &generator))
            }
        }
        func leg() -> JSONValue {
            var members: [String: JSONValue] = [:]
            if Int.random(in: 0..<30, using: &generator) > 0 { members["symbol"] = .string("AAPL") }
            members["quantity"] = integer()
            return .object(members)
        }
        switch name {
        case "key": return .string("k\(Int.random(in: 0...9, using: &generator))")
        case "count": return integer()
        case "small": return Int.random(in: 0..<10, using: &generator) == 0 ? integer() : .int(Int64.random(in: 0...270, using: &generator))
        case "ratio", "price": return Bool.random(using: &generator) ? .double(Double.random(in: -1e6...1e6, using: &generator)) : integer()
        case "flag": return .bool(Bool.random(using: &generator))
        case "tags": return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in Int.random(in: 0..<30, using: &generator) == 0 ? .int(1) : .string("t") })
        case "limits": return .object(["a": integer(), "b": .int(7)])
        case "leg": return leg()
        case "legs": return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in leg() })
        case "side": return .string(Int.random(in: 0..<30, using: &generator) == 0 ? "hold" : Bool.random(using: &generator) ? "buy" : "sell")
        case "url": return .string(Bool.random(using: &generator) ? "https://example.com/a?b=c" : "")
        case "matrix": return .array([.array([integer(), .int(2)]), .array([])])
        default: return anything(&generator)
        }
    }

    func anything(_ generator: inout SeededGenerator, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0...(depth > 1 ? 4 : 6), using: &generator) {
        case 0: .null
        case 1: .bool(true)
        case 2: .int(Int64.random(in: -5...5, using: &generator))
        case 3: .double(2.5)
        case 4: .string("s")
        case 5: .array([anything(&generator, depth: depth + 1)])
        default: .object(["x": anything(&generator, depth: depth + 1)])
        }
    }

    /// An error's kind and coding path, for comparing failures.
    func shape(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String { context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case DecodingError.keyNotFound(let key, let context): return "keyNotFound \(path(context)).\(key.stringValue)"
        case DecodingError.typeMismatch(_, let context): return "typeMismatch \(path(context))"
        case DecodingError.valueNotFound(_, let context): return "valueNotFound \(path(context))"
        case DecodingError.dataCorrupted(let context): return "dataCorrupted \(path(context))"
        default: return "\(error)"
        }
    }

    @Test func decodesWhatJSONDecoderDecodesAndFailsWhereItFails() throws {
        var generator = SeededGenerator(seed: 12)
        let names = ["key", "count", "small", "ratio", "flag", "tags", "limits", "leg", "legs", "side", "price", "url", "extra", "matrix", "unknown"]
        var decoded = 0
        var failed = 0
        for _ in 0..<5000 {
            var members: [String: JSONValue] = [:]
            for name in names { members[name] = member(name, &generator) }
            let value = JSONValue.object(members)
            let text = try JSONEncoder().encode(value)
            let theirs = Result { try JSONDecoder().decode(Arguments.self, from: text) }
            let ours = Result { try JSONValueDecoder().decode(Arguments.self, from: value) }
            switch (theirs, ours) {
            case (.success(let expected), .success(let actual)):
                #expect(actual == expected, "\(String(decoding: text, as: UTF8.self))")
                decoded += 1
            case (.failure(let expected), .failure(let actual)):
                // JSONDecoder reports a null where a value is required as a type mismatch or a
                // missing value depending on the type; both name the same member. Its number
                // range errors carry no path (ours name the member).
                let normalize = { (shape: String) in
                    shape.hasPrefix("dataCorrupted") ? "dataCorrupted" : shape.replacingOccurrences(of: "valueNotFound", with: "typeMismatch")
                }
                #expect(normalize(shape(actual)) == normalize(shape(expected)), "\(String(decoding: text, as: UTF8.self))")
                failed += 1
            default:
                Issue.record("JSONDecoder: \(theirs), ours: \(ours) for \(String(decoding: text, as: UTF8.self))")
            }
        }
        // Both outcomes were exercised often.
        #expect(decoded > 1000 && failed > 1000, "decoded \(decoded), failed \(failed)")
    }

    @Test func errorsNameTheMemberAndTheProblem() {
        let missing = Result { try JSONValueDecoder().decode(Leg.self, from: ["quantity": 1]) }
        guard case .failure(DecodingError.keyNotFound(let key, _)) = missing else { Issue.record("\(missing)"); return }
        #expect(key.stringValue == "symbol")
        let outOfRange = Result { try JSONValueDecoder().decode(Leg.self, from: ["symbol": "A", "quantity": .int(1 << 40)]) }
        guard case .failure(DecodingError.dataCorrupted(let context)) = outOfRange else { Issue.record("\(outOfRange)"); return }
        #expect(context.codingPath.map(\.stringValue) == ["quantity"])
        #expect(context.debugDescription.contains("does not fit in Int32"))
    }
}
