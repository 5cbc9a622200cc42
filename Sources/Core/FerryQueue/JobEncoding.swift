/// A direct JSON writer for the job envelope: the bytes JSONEncoder would produce with sorted
/// keys, written without its reflection overhead (enqueueing is the dispatcher's hot path).
enum JobWriter {
    static func encode(_ job: Job) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(192)
        out.append(UInt8(ascii: "{"))
        key("args", &out, first: true)
        write(job.args, &out)
        key("attempt", &out)
        out.append(contentsOf: String(job.attempt).utf8)
        if let batch = job.batch {
            key("batch", &out)
            write(string: batch, &out)
        }
        key("created_at", &out)
        write(number: job.createdAt, &out)
        key("enqueued_at", &out)
        write(number: job.enqueuedAt, &out)
        if let expiresAt = job.expiresAt {
            key("expires_at", &out)
            write(number: expiresAt, &out)
        }
        if let error = job.error {
            key("error", &out)
            write(failure: error, &out)
        }
        if let failures = job.failures {
            key("failures", &out)
            out.append(UInt8(ascii: "["))
            for (index, failure) in failures.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(failure: failure, &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        key("id", &out)
        write(string: job.id, &out)
        if let keep = job.keepRecord {
            key("keep_record", &out)
            out.append(contentsOf: (keep ? "true" : "false").utf8)
        }
        key("max_attempts", &out)
        out.append(contentsOf: String(job.maxAttempts).utf8)
        if let origin = job.origin {
            key("origin", &out)
            write(origin, &out)
        }
        key("queue", &out)
        write(string: job.queue, &out)
        if let runAt = job.runAt {
            key("run_at", &out)
            write(number: runAt, &out)
        }
        if let then = job.then {
            key("then", &out)
            write(then, &out)
        }
        if let tick = job.tick {
            key("tick", &out)
            write(number: tick, &out)
        }
        if let timeout = job.timeoutS {
            key("timeout_s", &out)
            write(number: timeout, &out)
        }
        key("type", &out)
        write(string: job.type, &out)
        if let unique = job.uniqueKey {
            key("unique_key", &out)
            write(string: unique, &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"at":…,"message":…,"type":…}`
    static func write(failure: JobFailure, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        key("at", &out, first: true)
        write(number: failure.at, &out)
        key("message", &out)
        write(string: failure.message, &out)
        key("type", &out)
        write(string: failure.type, &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func key(_ name: StaticString, _ out: inout [UInt8], first: Bool = false) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    static func write(_ value: JSONValue, _ out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .double(let number): write(number: number, &out)
        case .string(let text): write(string: text, &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, name) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(string: name, &out)
                out.append(UInt8(ascii: ":"))
                write(members[name]!, &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// JSON has no NaN or infinity; they are written as null.
    static func write(number: Double, _ out: inout [UInt8]) {
        guard number.isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        if number == number.rounded(), abs(number) < 1e15 {
            out.append(contentsOf: String(Int64(number)).utf8)
        } else {
            out.append(contentsOf: number.description.utf8)
        }
    }

    static func write(string: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
