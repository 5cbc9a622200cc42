import FerryTestSupport
import Foundation
import Testing

/// The Python client (`clients/python`, `ferry_client`) against real workers: its own tests,
/// written in Python with unittest, run here so that `swift test` (and CI) runs them.
@Suite struct PythonClientTests {
    @Test func thePythonClientsOwnTestsPass() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "unittest", "discover", "-s", FileManager.default.currentDirectoryPath + "/clients/python/tests", "-v"]
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_TEST_REDIS_URL"] = TestEnvironment.redisURL
        environment["FERRY_TEST_FERRY_BIN"] = TestEnvironment.ferryBinary
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text.suffix(4000))")
        #expect(text.contains("Ran 7 tests") && text.hasSuffix("OK\n"), "\(text.suffix(4000))")
    }
}
