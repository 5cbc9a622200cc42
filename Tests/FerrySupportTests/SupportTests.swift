import FerrySupport
import Testing

/// The checked conversions every layer uses for numbers from outside.
@Suite struct TimeConversionTests {
    @Test func checkedConversions() {
        #expect(Duration(checkedSeconds: 1e300) == nil)
        #expect(Duration(checkedSeconds: .nan) == nil)
        #expect(Duration(checkedSeconds: -1) == nil)
        #expect(Duration(checkedSeconds: 1.5) == .milliseconds(1500))
        #expect(Duration(parsing: "1e300s") == nil)
        #expect(Duration(parsing: "-5s") == nil)
        #expect(Duration(parsing: "500ms") == .milliseconds(500))
        #expect(Duration(parsing: "2h") == .seconds(7200))
        #expect(Duration(parsing: "soon") == nil)
        #expect(UnixMilliseconds.checked(1e300) == nil)
        #expect(UnixMilliseconds.checked(1.5) == 1500)
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
    }
}

/// Secrets never shown in URLs that reach a log or an error.
@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgres://ferry:s3cret@db:5432/ferry?sslmode=require", "postgres://ferry:***@db:5432/ferry?sslmode=require"),
        ("postgres://db/ferry?user=ferry&password=s3cret&x=1", "postgres://db/ferry?user=ferry&password=***&x=1"),
        ("https://bucket.example/file.csv?X-Amz-Signature=s3cret&X-Amz-Expires=60", "https://bucket.example/file.csv?X-Amz-Signature=***&X-Amz-Expires=60"),
        ("smtp://user@mail.example:587", "smtp://user@mail.example:587"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
    ])
    func secretsAreHidden(url: String, shown: String) {
        #expect(URLRedaction.redact(url) == shown)
        #expect(!URLRedaction.redact(url).contains("s3cret"))
    }
}

@Suite struct StableHashTests {
    /// Values computed independently (FNV-1a 64, two offsets): stored keys depend on them never changing.
    @Test func valuesAreFixedForever() {
        #expect(StableHash.hex128("") == "cbf29ce48422232584222325cbf29ce4")
        #expect(StableHash.hex128("ferry") == "893224dff4dcf75b7fada97654c06200")
        #expect(StableHash.hex128("ferry") != StableHash.hex128("ferrz"))
    }
}
