import FerrySupport
import FerryQueue
import Foundation
import Yams

/// Reads `jobs/<type>.yml` files: per-type overrides of ``JobSettings``.
///
/// ```yaml
/// queue: critical
/// max_attempts: 5
/// timeout: 2m            # 90, 90s, 500ms, 2m, 1h
/// concurrency: 2         # at most 2 at once per worker process
/// backoff: {base: 10s, max: 1h, jitter: 0.25}
/// rate: {limit: 50, per: 1m, burst: 10, key: model, reserve: {critical: 20%}}
/// parameters: {base_rate: "0.0125"}
/// ```
public enum JobSettingsFile {
    /// Why a settings file was refused: the file, the setting, what is wrong.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    /// Applies `directory/<type>.yml`, if it exists, to `settings`.
    public static func apply(directory: String, type: String, to settings: inout JobSettings) throws(Invalid) {
        let path = "\(directory)/\(type).yml"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Invalid(file: path, message: "cannot be read: \(error.localizedDescription)")
        }
        try apply(yaml: text, file: path, to: &settings)
    }

    /// Applies YAML text to `settings`; `file` names it in errors and in ``JobSettings/sources``.
    public static func apply(yaml text: String, file: String, to settings: inout JobSettings) throws(Invalid) {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Invalid(file: file, message: "is not valid YAML: \(error)") }
        guard let root else { return }
        guard let map = root as? [String: Any] else { throw Invalid(file: file, message: "must be a map of settings") }
        for (key, value) in map {
            switch key {
            case "queue":
                guard let queue = value as? String else { throw Invalid(file: file, message: "queue must be a queue name") }
                do throws(QueueError) { try Names.validateQueue(queue) } catch { throw Invalid(file: file, message: "queue: \(error)") }
                settings.queue = queue
            case "max_attempts":
                guard let attempts = value as? Int, JobRules.attempts.contains(attempts) else {
                    throw Invalid(file: file, message: "max_attempts must be a whole number from \(JobRules.attempts.lowerBound) to \(JobRules.attempts.upperBound)")
                }
                settings.maxAttempts = attempts
            case "timeout":
                settings.timeout = try duration(value, "timeout", file)
                do throws(QueueError) { try JobRules.checkTimeout(settings.timeout) } catch { throw Invalid(file: file, message: "timeout: \(error)") }
            case "result_ttl":
                settings.resultTTL = try duration(value, "result_ttl", file)
                guard settings.resultTTL >= .seconds(1) else { throw Invalid(file: file, message: "result_ttl must be at least 1s") }
            case "concurrency":
                guard let limit = value as? Int, (1...1000).contains(limit) else {
                    throw Invalid(file: file, message: "concurrency must be a whole number from 1 to 1000")
                }
                settings.concurrency = limit
            case "backoff":
                guard let backoff = value as? [String: Any] else { throw Invalid(file: file, message: "backoff must be a map with base, max, jitter") }
                for (name, part) in backoff {
                    switch name {
                    case "base": settings.backoff.base = try duration(part, "backoff.base", file)
                    case "max": settings.backoff.max = try duration(part, "backoff.max", file)
                    case "jitter":
                        guard let jitter = (part as? Double) ?? (part as? Int).map(Double.init), (0...1).contains(jitter) else {
                            throw Invalid(file: file, message: "backoff.jitter must be a number from 0 to 1")
                        }
                        settings.backoff.jitter = jitter
                    default: throw Invalid(file: file, message: "unknown backoff setting '\(name)' (base, max, jitter)")
                    }
                }
            case "rate":
                settings.rate = try rate(value, file)
            case "celery":
                guard let celery = value as? [String: Any] else { throw Invalid(file: file, message: "celery must be a map with name and args") }
                for (name, part) in celery {
                    switch name {
                    case "name":
                        guard let task = part as? String, !task.isEmpty, task.utf8.count <= 200 else {
                            throw Invalid(file: file, message: "celery.name must be a task name of 1 to 200 bytes")
                        }
                        settings.celeryName = task
                    case "args":
                        guard let names = part as? [String], Set(names).count == names.count, names.allSatisfy({ !$0.isEmpty }) else {
                            throw Invalid(file: file, message: "celery.args must be a list of distinct argument names")
                        }
                        settings.celeryArguments = names
                    default: throw Invalid(file: file, message: "unknown celery setting '\(name)' (name, args)")
                    }
                }
            case "parameters":
                guard let parameters = value as? [String: Any] else { throw Invalid(file: file, message: "parameters must be a map") }
                for (name, parameter) in parameters { settings.parameters[name] = JSONValue(parsed: parameter) }
            default:
                throw Invalid(file: file, message: "unknown setting '\(key)' (queue, max_attempts, timeout, concurrency, rate, backoff, result_ttl, celery, parameters)")
            }
            settings.sources[key] = file
        }
    }

    /// `{limit: 50, per: 1m, burst: 10, key: model, reserve: {critical: 20%}}`; `per` defaults to
    /// 1s, `burst` to 1.
    static func rate(_ value: Any, _ file: String) throws(Invalid) -> RateLimit {
        guard let map = value as? [String: Any] else {
            throw Invalid(file: file, message: "rate must be a map like {limit: 50, per: 1m, burst: 10, key: model}")
        }
        var limit: Int?
        var period = Duration.seconds(1)
        var burst = 1
        var key: String?
        var reserved: [String: Double] = [:]
        for (name, part) in map {
            switch name {
            case "limit":
                guard let number = part as? Int else { throw Invalid(file: file, message: "rate.limit must be a whole number") }
                limit = number
            case "per": period = try duration(part, "rate.per", file)
            case "burst":
                guard let number = part as? Int else { throw Invalid(file: file, message: "rate.burst must be a whole number") }
                burst = number
            case "key":
                guard let argument = part as? String else { throw Invalid(file: file, message: "rate.key must name an argument") }
                key = argument
            case "reserve":
                guard let shares = part as? [String: Any] else { throw Invalid(file: file, message: "rate.reserve must map queue names to shares, like {critical: 20%}") }
                for (queue, share) in shares {
                    guard let fraction = Self.share(share) else {
                        throw Invalid(file: file, message: "rate.reserve.\(queue) must be a share like 20% or 0.2, got '\(share)'")
                    }
                    reserved[queue] = fraction
                }
            default: throw Invalid(file: file, message: "unknown rate setting '\(name)' (limit, per, burst, key, reserve)")
            }
        }
        guard let limit else { throw Invalid(file: file, message: "rate.limit is required: the most jobs per period") }
        do {
            return try RateLimit(limit: limit, period: period, burst: burst, key: key, reserved: reserved)
        } catch {
            throw Invalid(file: file, message: error.description)
        }
    }

    /// `20%` or `0.2`.
    private static func share(_ value: Any) -> Double? {
        if let number = value as? Double { return number }
        if let text = value as? String, text.hasSuffix("%"), let percent = Double(text.dropLast()), percent.isFinite { return percent / 100 }
        return nil
    }

    /// `90`, `90s`, `500ms`, `2m`, `1h`.
    static func duration(_ value: Any, _ name: String, _ file: String) throws(Invalid) -> Duration {
        if let seconds = value as? Int, seconds > 0, let duration = Duration(checkedSeconds: Double(seconds)) { return duration }
        if let seconds = value as? Double, seconds > 0, let duration = Duration(checkedSeconds: seconds) { return duration }
        if let text = value as? String, let parsed = parseDuration(text), parsed > .zero { return parsed }
        throw Invalid(file: file, message: "\(name) must be a duration like 30s, 500ms, 5m or 1h, got '\(value)'")
    }

    /// Parses `500ms`, `30s`, `5m`, `1h`, `2d` or a number of seconds.
    /// Out-of-range values (negative, not finite, over 10 years) give nil.
    public static func parseDuration(_ text: String) -> Duration? {
        Duration(parsing: text)
    }
}
