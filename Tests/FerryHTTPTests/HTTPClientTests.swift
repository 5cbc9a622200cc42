import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

/// Against the local HTTP test server (`ops/testservers/http-stub.py`, started by `ops/test`).
@Suite struct HTTPClientTests {
    let client = FerryHTTPClient()
    let base = TestEnvironment.httpURL

    struct Echo: Decodable {
        var method: String
        var path: String
        var query: [String: String]
        var headers: [String: String]
        var body: String
    }

    @Test func sendsMethodHeadersAndBody() throws {
        let response = try client.execute(FerryHTTPClient.Request(
            method: "POST", url: base + "/echo?page=2",
            headers: ["Content-Type": "application/json", "X-Request-Id": "abc-123"],
            text: #"{"hello": "wörld"}"#
        ))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        let echo = try JSONDecoder().decode(Echo.self, from: Data(response.body))
        #expect(echo.method == "POST")
        #expect(echo.query == ["page": "2"])
        #expect(echo.headers["x-request-id"] == "abc-123")
        #expect(echo.headers["expect"] == nil)
        #expect(echo.body == #"{"hello": "wörld"}"#)
    }

    @Test(arguments: ["PUT", "DELETE", "PATCH"])
    func otherMethods(method: String) throws {
        let response = try client.execute(FerryHTTPClient.Request(method: method, url: base + "/echo", text: "x"))
        let echo = try JSONDecoder().decode(Echo.self, from: Data(response.body))
        #expect(echo.method == method)
    }

    @Test func errorStatusesAreResponsesNotErrors() throws {
        for status in [404, 429, 500, 529] {
            let response = try client.execute(FerryHTTPClient.Request(url: base + "/status/\(status)"))
            #expect(response.status == status)
            #expect(!response.isSuccess)
            #expect(response.text == "status \(status)\n")
        }
    }

    @Test func readsResponseHeaders() throws {
        let response = try client.execute(FerryHTTPClient.Request(url: base + "/headers?Retry-After=7&X-Ferry=yes"))
        #expect(response.headers["retry-after"] == "7")
        #expect(response.headers["X-FERRY"] == "yes")
    }

    @Test func timesOut() throws {
        do {
            _ = try client.execute(FerryHTTPClient.Request(url: base + "/delay/3000", timeout: .milliseconds(300)))
            Issue.record("a 3 s answer arrived within 300 ms")
        } catch {
            #expect(error == .timeout(url: base + "/delay/3000", after: .milliseconds(300)))
            #expect(error.isTransient)
        }
        // The client is fine afterwards.
        #expect(try client.execute(FerryHTTPClient.Request(url: base + "/status/204")).status == 204)
    }

    @Test func refusedConnectionNamesTheURLButNotTheCredentials() throws {
        let port = try FreePort.find()
        do {
            _ = try client.execute(FerryHTTPClient.Request(url: "http://user:s3cr3t@127.0.0.1:\(port)/x"))
            Issue.record("connected to a port nobody listens on")
        } catch {
            guard case .connectionFailed(let url, _) = error else { Issue.record("\(error)"); return }
            #expect(url == "http://user:***@127.0.0.1:\(port)/x")
            #expect(!error.description.contains("s3cr3t"))
        }
    }

    @Test func limitsTheResponseSize() throws {
        let small = FerryHTTPClient(maxResponseBytes: 1000)
        #expect(try small.execute(FerryHTTPClient.Request(url: base + "/bytes/1000")).body.count == 1000)
        #expect(throws: FerryHTTPError.responseTooLarge(url: base + "/bytes/5000", limit: 1000)) {
            try small.execute(FerryHTTPClient.Request(url: base + "/bytes/5000"))
        }
    }

    @Test func rejectsBadRequestsBeforeSending() {
        #expect(throws: FerryHTTPError.self) { try client.execute(FerryHTTPClient.Request(url: "ftp://example.com/file")) }
        #expect(throws: FerryHTTPError.self) { try client.execute(FerryHTTPClient.Request(method: "get me", url: base + "/echo")) }
        #expect(throws: FerryHTTPError.self) {
            try client.execute(FerryHTTPClient.Request(url: base + "/echo", headers: ["X-Evil": "a\r\nX-Injected: 1"]))
        }
    }

    @Test func verifiesTLS() throws {
        // Speaking TLS to a plain-HTTP port fails the handshake: TLS is attempted and checked.
        let url = base.replacingOccurrences(of: "http://", with: "https://") + "/echo"
        do {
            _ = try client.execute(FerryHTTPClient.Request(url: url, timeout: .seconds(5)))
            Issue.record("TLS to a plain HTTP server succeeded")
        } catch {
            guard case .tls = error else { Issue.record("expected a TLS error, got \(error)"); return }
        }
    }

    @Test func sharedByManyThreads() throws {
        var statuses = [Int](repeating: 0, count: 16)
        statuses.withUnsafeMutableBufferPointer { buffer in
            let pointer = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: 16) { index in
                pointer.value[index] = (try? client.execute(FerryHTTPClient.Request(url: base + "/status/\(400 + index)")).status) ?? -1
            }
        }
        #expect(statuses == Array(400..<416))
    }
}

/// Hands a buffer to `concurrentPerform`, whose iterations write disjoint elements.
struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
