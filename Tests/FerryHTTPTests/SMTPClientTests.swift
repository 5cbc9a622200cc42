import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

/// Against the local SMTP relays (`ops/testservers/smtp-stub.py`, started by `ops/test`):
/// an open one, and one that requires AUTH as ferry / relay-secret.
@Suite struct SMTPClientTests {
    let openRelay = TestEnvironment.smtpURL + "?starttls=never"
    var authPort: String { ProcessInfo.processInfo.environment["FERRY_TEST_SMTP_AUTH_PORT"] ?? "12526" }
    var mailDirectory: String {
        ProcessInfo.processInfo.environment["FERRY_TEST_MAIL_DIR"] ?? "\(FileManager.default.currentDirectoryPath)/.ferry/test/mail"
    }

    /// The delivered message whose Message-ID is `id`, as the relay stored it.
    func delivered(_ id: String) throws -> String {
        for _ in 0..<50 {
            for name in try FileManager.default.contentsOfDirectory(atPath: mailDirectory) where name.hasSuffix(".eml") {
                let text = try String(contentsOfFile: "\(mailDirectory)/\(name)", encoding: .utf8)
                if text.contains("Message-ID: \(id)") { return text }
            }
            usleep(50_000)
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test func deliversAMultipartMessage() throws {
        let client = try SMTPClient(url: openRelay)
        let message = EmailMessage(
            from: try EmailAddress("noreply@ferry.test", name: "Ferry"),
            to: [try EmailAddress("alice@example.com", name: "Alice Ångström")],
            bcc: [try EmailAddress("audit@example.com")],
            subject: "Your export is ready ✓",
            text: "Hello Alice,\nyour CSV export is ready.",
            html: "<p>Hello Alice, your <b>CSV export</b> is ready.</p>",
            headers: [("X-Ferry-Job", "job-123")]
        )
        let receipt = try client.send(message)
        #expect(receipt.recipients == ["alice@example.com", "audit@example.com"])
        let stored = try delivered(receipt.messageID)
        #expect(stored.contains("X-Envelope-To: alice@example.com, audit@example.com"))
        #expect(stored.contains("X-Ferry-Job: job-123"))
        #expect(stored.contains("multipart/alternative"))
        #expect(!stored.contains("Bcc"))
        #expect(stored.contains("Subject: =?UTF-8?B?"))
        let plain = Data("Hello Alice,\nyour CSV export is ready.".utf8).base64EncodedString()
        #expect(stored.contains(plain))
    }

    @Test func aRejectedRecipientIsReportedWithTheReplyCode() throws {
        let client = try SMTPClient(url: openRelay)
        let message = EmailMessage(
            from: try EmailAddress("noreply@ferry.test"), to: [try EmailAddress("reject-me@example.com")],
            subject: "hi", text: "hi")
        do {
            try client.send(message)
            Issue.record("a rejected recipient was accepted")
        } catch {
            guard case .recipientRejected(_, let code, _) = error else { Issue.record("\(error)"); return }
            #expect(code == 550)
            #expect(!error.isTransient)
        }
    }

    @Test func authenticatesAndRefusesWrongCredentialsWithoutLeakingThem() throws {
        let message = EmailMessage(
            from: try EmailAddress("noreply@ferry.test"), to: [try EmailAddress("bob@example.com")],
            subject: "auth", text: "authenticated")
        let good = try SMTPClient(url: "smtp://ferry:relay-secret@127.0.0.1:\(authPort)?starttls=never")
        let receipt = try good.send(message)
        #expect(try delivered(receipt.messageID).contains("X-Envelope-To: bob@example.com"))

        let bad = try SMTPClient(url: "smtp://ferry:wrong-secret@127.0.0.1:\(authPort)?starttls=never")
        do {
            try bad.send(message)
            Issue.record("wrong credentials were accepted")
        } catch {
            guard case .authenticationFailed = error else { Issue.record("\(error)"); return }
            #expect(!error.description.contains("wrong-secret"))
        }

        let anonymous = try SMTPClient(url: "smtp://127.0.0.1:\(authPort)?starttls=never")
        #expect(throws: SMTPError.self) { try anonymous.send(message) }
    }

    @Test func credentialsWithoutTLSAreRefusedByDefault() throws {
        // smtp:// with a password requires STARTTLS unless told otherwise; the test relay has none.
        let client = try SMTPClient(url: "smtp://ferry:relay-secret@127.0.0.1:\(authPort)")
        let message = EmailMessage(
            from: try EmailAddress("noreply@ferry.test"), to: [try EmailAddress("bob@example.com")],
            subject: "tls", text: "tls")
        do {
            try client.send(message)
            Issue.record("credentials were sent without TLS")
        } catch {
            guard case .tls = error else { Issue.record("expected a TLS error, got \(error)"); return }
        }
    }

    @Test func refusesUnsafeMessagesAndUnreachableRelays() throws {
        #expect(throws: SMTPError.self) { try EmailAddress("bob@example.com\r\nRCPT TO:<x@y.z>") }
        #expect(throws: SMTPError.self) { try EmailAddress("not-an-address") }
        let port = try FreePort.find()
        let client = try SMTPClient(url: "smtp://127.0.0.1:\(port)?starttls=never")
        let message = EmailMessage(
            from: try EmailAddress("a@ferry.test"), to: [try EmailAddress("b@example.com")], subject: "x", text: "x")
        do {
            try client.send(message)
            Issue.record("a message was sent to a port nobody listens on")
        } catch {
            guard case .connectionFailed = error else { Issue.record("\(error)"); return }
            #expect(error.isTransient)
        }
    }
}
