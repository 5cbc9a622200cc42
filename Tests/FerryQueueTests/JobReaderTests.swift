import FerryQueue
import FerryTestSupport
import Foundation
import Testing

/// The job envelope's own reader against Foundation's `JSONDecoder` (what it replaced on the hot
/// path), on thousands of random jobs and random corruptions of them: it reads what JSONDecoder
/// reads, the same way, and refuses more only what is not JSON at all.
@Suite struct JobReaderTests {
    /// What JSONDecoder makes of `bytes`, with the same range checks.
    func foundation(_ bytes: [UInt8]) -> Job? {
        guard let job = try? JSONDecoder().decode(Job.self, from: Data(bytes)), (try? job.checkRanges()) != nil else { return nil }
        return job
    }

    func randomString(_ generator: inout SeededGenerator) -> String {
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "é", "€", "😀", "{", "}", "[", ",", ":"]
        return String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    func randomValue(_ generator: inout SeededGenerator, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0...(depth > 3 ? 4 : 6), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &generator) >> Int64.random(in: 0...63, using: &generator))
        case 3: return .double([0.5, -1.25, 1e-7, 3.141592653589793, 1e300, -2.5e-300][Int.random(in: 0...5, using: &generator)])
        case 4: return .string(randomString(&generator))
        case 5: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(&generator, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) { members[randomString(&generator)] = randomValue(&generator, depth: depth + 1) }
            return .object(members)
        }
    }

    func randomJob(_ generator: inout SeededGenerator) -> Job {
        Job(
            id: Job.newID(), type: "ferry.noop", queue: "default", args: randomValue(&generator, depth: 5) == .null ? .object([:]) : .object(["v": randomValue(&generator)]),
            attempt: Int.random(in: 1...10, using: &generator), maxAttempts: 10, createdAt: 1_795_500_000.25,
            runAt: Bool.random(using: &generator) ? 1_795_500_100.5 : nil, uniqueKey: Bool.random(using: &generator) ? randomString(&generator) : nil,
            timeoutS: Bool.random(using: &generator) ? 30 : nil,
            error: Bool.random(using: &generator) ? JobFailure(type: "Timeout", message: randomString(&generator), at: 1_795_500_001) : nil,
            tick: Bool.random(using: &generator) ? 1_795_500_060 : nil,
            keepRecord: [nil, true, false][Int.random(in: 0...2, using: &generator)],
            expiresAt: Bool.random(using: &generator) ? 1_795_500_200.75 : nil,
            origin: Bool.random(using: &generator) ? .object(["protocol": "celery", "task": .string(randomString(&generator))]) : nil
        )
    }

    @Test func randomJobsReadTheSameAsWithJSONDecoder() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let job = randomJob(&generator)
            for bytes in [job.encoded(), Array(try JSONEncoder().encode(job))] {
                let read = try Job.decode(bytes)
                #expect(read == job, "\(String(decoding: bytes, as: UTF8.self))")
                #expect(read == foundation(bytes))
            }
        }
    }

    @Test func anyDocumentReadsAsWithJSONDecoder() throws {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<2000 {
            let value = randomValue(&generator)
            let bytes = Array(try JSONEncoder().encode(value))
            #expect(try JSONValue(parsing: bytes) == (try JSONDecoder().decode(JSONValue.self, from: Data(bytes))))
        }
        for broken in ["", "{", "[1,]", "{\"a\" 1}", "1 2", "nul"] {
            #expect(throws: QueueError.self) { try JSONValue(parsing: Array(broken.utf8)) }
        }
    }

    @Test func numbersReadAsTheirTextParses() throws {
        // Short numbers take a fast path (digits into an integer, one division); each must come
        // out as parsing its text gives, the sign of zero and the integer/double split included.
        var generator = SeededGenerator(seed: 23)
        var texts = ["0", "-0", "0.0", "-0.0", "1.0", "0.1", "0.30000000000000004", "123456789012345", "1234567890123456",
                     "999999999999999.9", "0.000000000000001", "1795500000.123456", "-1795500000.5", "9007199254740993", "9007199254740992", "900719925474099.3", "9007199254740.993", "1765051234.123456", "0.0000000000000000000001",
                     "0.00000000000000000000001", "1e2", "2.5E-3",
                     // Long ones take the slow path (64-bit integers, correctly rounded doubles).
                     "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
                     "18446744073709551616", "12345678901234567890123", "1765148400.1234567", "-1765148400.1234567",
                     "1e308", "4.9e-324", "2.2250738585072014e-308", "0.1e-400", "123456789012345678.5"]
        for _ in 0..<5000 {
            let integerDigits = Int.random(in: 1...13, using: &generator)
            let fractionDigits = Int.random(in: 0...9, using: &generator)
            var text = Bool.random(using: &generator) ? "-" : ""
            text += String(Int.random(in: 1...9, using: &generator))
            for _ in 1..<integerDigits { text += String(Int.random(in: 0...9, using: &generator)) }
            if fractionDigits > 0 {
                text += "."
                for _ in 0..<fractionDigits { text += String(Int.random(in: 0...9, using: &generator)) }
            }
            texts.append(text)
        }
        for text in texts {
            let job = try Job.decode(Array(#"{"id":"n","type":"t","queue":"q","args":{"x":\#(text)},"attempt":1,"max_attempts":1,"created_at":1,"enqueued_at":1}"#.utf8))
            let expected: JSONValue
            if let integer = Int64(text) {
                expected = .int(integer)
            } else {
                let double = try #require(Double(text))
                expected = Int64(exactly: double).map { .int($0) } ?? .double(double)
            }
            #expect(job.args == .object(["x": expected]), "\(text)")
            if case .double(let read) = job.args["x"], case .double(let wanted) = expected {
                #expect(read.bitPattern == wanted.bitPattern, "\(text)")
            }
        }
    }

    @Test func corruptedJobsAreRefusedOrReadAsJSONDecoderReadsThem() throws {
        var generator = SeededGenerator(seed: 11)
        let interesting: [UInt8] = Array("{}[]\",:\\0123456789.eE+-tfnu \u{7f}".utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
        var accepted = 0
        for round in 0..<20_000 {
            var bytes = randomJob(&generator).encoded()
            for _ in 0..<Int.random(in: 1...3, using: &generator) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0...3, using: &generator) {
                case 0: bytes[at] = interesting.randomElement(using: &generator)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(interesting.randomElement(using: &generator)!, at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            let theirs = foundation(bytes)
            do {
                let ours = try Job.decode(bytes)
                // Never more lenient, never a different reading.
                #expect(ours == theirs, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
                accepted += 1
            } catch {
                // Stricter only where the bytes are not JSON at all: JSONDecoder does not check the
                // numbers and the UTF-8 of fields it skips.
                #expect(theirs == nil || "\(error)".contains("not valid JSON"), "round \(round): \(error): \(String(decoding: bytes, as: UTF8.self))")
            }
        }
        // Some corruptions keep the payload a valid job (inside a string, say); most do not.
        #expect(accepted > 0 && accepted < 20_000)
    }

    @Test(arguments: [
        (#"{"id":"a","type":"t","queue":"q","args":{},"attempt":1,"max_attempts":3,"created_at":1}"#, "missing field 'enqueued_at'"),
        (#"{"id":1,"type":"t"}"#, "field 'id' has the wrong type"),
        (#"{"id":"a","type":"t","queue":"q","args":{},"attempt":1.5,"max_attempts":3,"created_at":1,"enqueued_at":1}"#, "field 'attempt' has the wrong type"),
        (#"{"id":"a""#, "not valid JSON"),
        (#"[1]"#, "not valid JSON"),
        (#"{"id":"\ud800","type":"t"}"#, "lone surrogate"),
        (#"{"id":"a","type":"t","queue":"q","args":{},"attempt":1,"max_attempts":3,"created_at":1,"enqueued_at":1} x"#, "after the job"),
    ])
    func malformedPayloadsSayWhy(payload: String, reason: String) {
        let error = #expect(throws: QueueError.self) { try Job.decode(Array(payload.utf8)) }
        #expect(error.map { "\($0)" }?.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        let payload = #"{"id":"a","type":"t","queue":"q","attempt":1,"max_attempts":3,"created_at":1,"enqueued_at":1,"args":"# + deep
        #expect(throws: QueueError.self) { try Job.decode(Array(payload.utf8)) }
    }
}
