import FerryAdmin
import Testing

/// `FERRY_ADMIN_ADDR` and the safe defaults, without a server.
@Suite struct ConfigurationTests {
    @Test(arguments: [
        ("127.0.0.1:7480", "127.0.0.1", 7480),
        (":9000", "0.0.0.0", 9000),
        ("[::1]:7481", "::1", 7481),
        ("admin.internal:443", "admin.internal", 443),
    ])
    func addressesParse(address: String, host: String, port: Int) throws {
        let configuration = try AdminServer.Configuration(address: address, token: "t")
        #expect(configuration.host == host)
        #expect(configuration.port == port)
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "", ":-1"])
    func badAddressesAreRefusedWithTheExpectedForm(address: String) {
        let error = #expect(throws: AdminConfigurationError.self) { try AdminServer.Configuration(address: address, token: nil) }
        #expect(error?.message.contains("must be host:port") == true, "\(String(describing: error))")
    }

    @Test func offLoopbackNeedsAToken() throws {
        #expect(throws: AdminConfigurationError.self) { try AdminServer.Configuration(address: "0.0.0.0:7480", token: nil).validate() }
        // An empty token is no token.
        #expect(throws: AdminConfigurationError.self) { try AdminServer.Configuration(address: "0.0.0.0:7480", token: "").validate() }
        try AdminServer.Configuration(address: "0.0.0.0:7480", token: "s3cret").validate()
        try AdminServer.Configuration(address: "127.0.0.1:7480", token: nil).validate()
    }
}
