@testable import FerryCelery
import FerryQueue
import FerryRedis
import FerryTestSupport
import FerryWorker
import Foundation
import Logging
import Testing

/// The step that takes Celery's messages from its list, against a real Redis: a message is taken
/// only while it is still the one at the tail, so a consumer that took it first (Celery's own
/// worker still running beside Ferry's) never makes Ferry take another in its place.
@Suite struct CeleryIngressTests {
    let namespace = "celery-ingress-\(UUID().uuidString.prefix(8))"
    let list = "celery-ingress-\(UUID().uuidString.prefix(8))"
    let redis: RedisConnection

    init() throws {
        redis = try RedisConnection(url: TestEnvironment.redisURL)
    }

    var ingress: CeleryIngress {
        get throws {
            try CeleryIngress(
                queues: [list], tasks: try CeleryTasks(settings: ["ferry.echo": JobSettings()]), keys: QueueKeyspace(namespace: namespace),
                redis: try RedisConfiguration(url: TestEnvironment.redisURL), results: nil, logger: Logger(label: "test"))
        }
    }

    /// A message as kombu writes it, with its own task id and delivery tag.
    func message(_ id: String, tag: String?) -> [UInt8] {
        let body = Data(#"[[], {"n": "\#(id)"}, {}]"#.utf8).base64EncodedString()
        let properties = tag.map { #""body_encoding": "base64", "delivery_tag": "\#($0)""# } ?? #""body_encoding": "base64""#
        return Array(#"{"body": "\#(body)", "content-type": "application/json", "headers": {"task": "ferry.echo", "id": "\#(id)"}, "properties": {\#(properties)}}"#.utf8)
    }

    func ready() throws -> [String] {
        try (redis.command("LRANGE", .string(QueueKeyspace(namespace: namespace).ready("default")), 0, -1).array ?? []).compactMap(\.string)
            .compactMap { try? Job.decode(Array($0.utf8)).id }
    }

    @Test func messagesAreTakenOnlyWhileStillAtTheTail() throws {
        defer { _ = try? redis.command("DEL", .string(list)) }
        let tags = (0..<4).map { _ in UUID().uuidString.lowercased() }
        let oldest = message("a", tag: tags[0]), second = message("b", tag: tags[1]), untagged = message("c", tag: nil)
        // kombu pushes at the head: the tail is the oldest.
        for raw in [oldest, second, untagged] { try redis.command("LPUSH", .string(list), .bytes(raw)) }
        let ingress = try ingress

        // Another consumer takes the oldest between the read and the move: nothing is taken for it.
        _ = try redis.command("RPOP", .string(list))
        try ingress.move([oldest, second], from: list, celeryQueue: list, on: redis)
        #expect(try ready().isEmpty)
        #expect(try redis.command("LLEN", .string(list)).int == 2)

        // A message of the same length with another tag at the tail is not the one read.
        let impostor = message("b", tag: tags[2])
        #expect(impostor.count == second.count)
        _ = try redis.command("RPOP", .string(list))
        try redis.command("RPUSH", .string(list), .bytes(impostor))
        try ingress.move([second], from: list, celeryQueue: list, on: redis)
        #expect(try ready().isEmpty && redis.command("LLEN", .string(list)).int == 2)

        // The one at the tail is taken; a message without a tag is known by its whole bytes.
        try ingress.move([impostor, untagged], from: list, celeryQueue: list, on: redis)
        #expect(try ready() == ["c", "b"])
        #expect(try redis.command("LLEN", .string(list)).int == 0)
    }

    @Test func theListMessagesCameFromIsTheOneWatchedNext() throws {
        let urgent = list, sixth = list + "\u{06}\u{16}6"
        defer { _ = try? redis.command("DEL", .string(urgent), .string(sixth)) }
        let ingress = try ingress
        #expect(try ingress.drain(on: redis) == .empty)
        // A client sending everything with one priority: its list is where the holder waits.
        try redis.command("LPUSH", .string(sixth), .bytes(message("p", tag: UUID().uuidString)))
        #expect(try ingress.drain(on: redis) == .busy(list: sixth))
        #expect(try ready() == ["p"])
        // The queue's own list (priority 0) is still taken first.
        try redis.command("LPUSH", .string(sixth), .bytes(message("later", tag: UUID().uuidString)))
        try redis.command("LPUSH", .string(urgent), .bytes(message("first", tag: UUID().uuidString)))
        #expect(try ingress.drain(on: redis) == .busy(list: urgent))
        #expect(try ingress.drain(on: redis) == .busy(list: sixth))
        #expect(try ready() == ["later", "first", "p"])
    }
}
