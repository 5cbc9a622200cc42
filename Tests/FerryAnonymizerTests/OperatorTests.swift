import FerryAnonymizer
import Testing

@Suite("Operators and configuration")
struct OperatorTests {
    let environment = ["FERRY_ANONYMIZE_HASH_KEY": "a-test-key-of-some-length", "FERRY_ANONYMIZE_AES_KEY": "WmZq4t7w!z%C&F)J", "OTHER_KEY": "another-test-key-0123"]

    func anonymizer(_ json: String) throws -> Anonymizer {
        try Anonymizer(configuration: try AnonymizerConfiguration.decode(json: Array(json.utf8)), environment: environment)
    }

    @Test func replaceRedactMaskKeepWithPresidiosParameters() throws {
        let text = "Anna Schmidt, anna@example.com, +49 30 1234567, 4111 1111 1111 1111"
        let result = try anonymizer("""
            {"operators": {"DEFAULT": {"type": "replace", "new_value": "<X>"}, "EMAIL_ADDRESS": {"type": "redact"},
             "PHONE_NUMBER": {"type": "mask", "masking_char": "*", "chars_to_mask": 7, "from_end": true},
             "CREDIT_CARD": {"type": "mask", "masking_char": "#", "chars_to_mask": 4}, "PERSON": {"type": "keep"}}}
            """).anonymize(text)
        #expect(result.text == "Anna Schmidt, , +49 30 *******, #### 1111 1111 1111")
        #expect(result.items.map(\.operator) == ["keep", "redact", "mask", "mask"])
        // Items point into the new text, in characters.
        #expect(result.items.map { Array(result.text)[$0.start..<$0.end].map(String.init).joined() } == ["Anna Schmidt", "", "+49 30 *******", "#### 1111 1111 1111"])
    }

    @Test func defaultReplacementIsTheEntityName() throws {
        #expect(try Anonymizer().anonymize("Ruf Jürgen Weber an: 030 12345678").text == "Ruf <PERSON> an: <PHONE_NUMBER>")
    }

    @Test func maskCountsCharactersNotBytes() throws {
        let result = try anonymizer(#"{"operators": {"PERSON": {"type": "mask", "masking_char": "•", "chars_to_mask": 3}}}"#).anonymize("Jürgen Müller")
        #expect(result.text == "•••gen Müller")
    }

    @Test func hashIsKeyedAndStable() throws {
        let hashing = try anonymizer(#"{"operators": {"DEFAULT": {"type": "hash"}}}"#)
        let first = hashing.anonymize("anna@example.com").text
        #expect(first.count == 64)
        #expect(hashing.anonymize("Mail: anna@example.com").text == "Mail: " + first)  // one value, one pseudonym
        #expect(try anonymizer(#"{"operators": {"DEFAULT": {"type": "hash"}}}"#).anonymize("anna@example.com").text == first)  // across instances
        #expect(try anonymizer(#"{"operators": {"DEFAULT": {"type": "hash", "key_env": "OTHER_KEY"}}}"#).anonymize("anna@example.com").text != first)
        #expect(try anonymizer(#"{"operators": {"DEFAULT": {"type": "hash", "hash_type": "sha512"}}}"#).anonymize("anna@example.com").text.count == 128)
    }

    @Test func encryptThenDecrypt() throws {
        let encrypting = try anonymizer(#"{"operators": {"EMAIL_ADDRESS": {"type": "encrypt"}}}"#)
        let result = encrypting.anonymize("Mail anna@example.com please")
        let item = try #require(result.items.first)
        #expect(item.operator == "encrypt")
        #expect(item.text.count >= 44)
        #expect(try Operator.decrypt(item.text, environment: environment) == "anna@example.com")
        // A fresh IV each time: equal values do not give equal ciphertexts.
        #expect(encrypting.anonymize("Mail anna@example.com please").text != result.text)
        #expect(throws: AnonymizerError.self) { try Operator.decrypt(item.text, environment: ["FERRY_ANONYMIZE_AES_KEY": "0123456789abcdef"]) }
        #expect(throws: AnonymizerError.self) { try Operator.decrypt("not-a-token", environment: environment) }
    }

    @Test(arguments: [
        (#"{"operators": {"PERSON": {"type": "scramble"}}}"#, "operator type 'scramble' is unknown"),
        (#"{"operators": {"PERSON": {"type": "mask", "masking_char": "*", "chars_to_msk": 3}}}"#, "unknown field 'chars_to_msk'"),
        (#"{"operators": {"PERSON": {"type": "mask", "masking_char": "**", "chars_to_mask": 3}}}"#, "masking_char must be one character"),
        (#"{"operators": {"PERSON": {"type": "encrypt", "key": "WmZq4t7w!z%C&F)J"}}}"#, "key_env"),
        (#"{"operators": {"PERSON": {"type": "encrypt", "key_env": "MISSING"}}}"#, "MISSING (not set)"),
        (#"{"operators": {"PERSON": {"type": "encrypt", "key_env": "OTHER_KEY"}}}"#, "AES needs 16, 24 or 32"),
        (#"{"operators": {"PERSON": {"type": "hash", "hash_type": "md5"}}}"#, "hash_type 'md5' is not offered"),
        (#"{"entities": ["PERSON", "SHOE_SIZE"]}"#, "'SHOE_SIZE' is not recognized"),
        (#"{"score_threshold": 1.5}"#, "score_threshold 1.5"),
        (#"{"score_treshold": 0.5}"#, "unknown field 'score_treshold'"),
        (#"{"recognizers": [{"name": "r", "supported_entity": "X_ID", "patterns": [{"name": "p", "regex": "(unclosed", "score": 0.5}]}]}"#, "pattern 'r/p'"),
        (#"{"recognizers": [{"name": "r", "supported_entity": "X_ID"}]}"#, "neither patterns nor a deny_list"),
        (#"{"recognizers": [{"name": "r", "supported_entity": "x id", "deny_list": ["a"]}]}"#, "must be capital letters"),
        (#"{"entities": "PERSON"}"#, "entities: expected a list"),
        (#"{"operators": []}"#, "operators"),
    ])
    func invalidConfigurationIsRefusedWithTheReason(_ json: String, _ reason: String) {
        do {
            _ = try anonymizer(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }
}
