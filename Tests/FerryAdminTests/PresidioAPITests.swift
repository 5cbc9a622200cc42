import FerryHTTP
import FerryQueue
import FerryTestSupport
import Foundation
import Testing

/// Presidio's REST API served by `ferry admin` under `/api/v1/presidio`: the documented request
/// and response shapes of presidio-analyzer (`/analyze`) and presidio-anonymizer (`/anonymize`,
/// `/deanonymize`, the GET lists), its status codes and error bodies.
extension AdminAPITests {
    @Test func presidioAnalyzeAnswersAsPresidio() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let url = base + "/api/v1/presidio/analyze"
        func analyze(_ body: String) throws -> (status: Int, json: JSONValue?) { try call("POST", url, body: body) }
        func spans(_ json: JSONValue?) -> [String] {
            (json?.elements ?? []).map { "\($0["entity_type"]?.string ?? "?") \($0["start"]?.int ?? -1)-\($0["end"]?.int ?? -1)" }
        }

        let text = "Reach me at 212-555-0143 or anna@example.com"
        let plain = try analyze(#"{"text": "\#(text)", "language": "en"}"#)
        #expect(plain.status == 200 && spans(plain.json) == ["PHONE_NUMBER 12-24", "EMAIL_ADDRESS 28-44"], "\(String(describing: plain.json))")
        let phone = try #require(plain.json?.elements?.first)
        #expect(phone["score"] == .double(0.4) && phone["analysis_explanation"] == .null)
        #expect(phone["recognition_metadata"]?["recognizer_name"] == .string("PhoneRecognizer"))
        // Character offsets, as Python counts them, not bytes.
        #expect(spans(try analyze(#"{"text": "Grüße an anna@example.com", "language": "de"}"#).json) == ["EMAIL_ADDRESS 9-25"])
        #expect(spans(try analyze(#"{"text": "\#(text)", "language": "en", "entities": ["EMAIL_ADDRESS"]}"#).json) == ["EMAIL_ADDRESS 28-44"])
        #expect(spans(try analyze(#"{"text": "\#(text)", "language": "en", "score_threshold": 0.5}"#).json) == ["EMAIL_ADDRESS 28-44"])
        #expect(spans(try analyze(#"{"text": "\#(text)", "language": "en", "allow_list": ["anna@example.com"]}"#).json) == ["PHONE_NUMBER 12-24"])
        // A regex allow list: case ignored by Presidio's default flags, kept with regex_flags 0.
        #expect(spans(try analyze(#"{"text": "\#(text)", "language": "en", "allow_list": [".*@EXAMPLE\\.com"], "allow_list_match": "regex"}"#).json) == ["PHONE_NUMBER 12-24"])
        #expect(spans(try analyze(#"{"text": "\#(text)", "language": "en", "allow_list": [".*@EXAMPLE\\.com"], "allow_list_match": "regex", "regex_flags": 0}"#).json).count == 2)
        // A request's context words raise a finding near them; the decision process says by how much.
        let explained = try analyze(#"{"text": "\#(text)", "language": "en", "context": ["reach"], "return_decision_process": 1}"#)
        let boosted = try #require(explained.json?.elements?.first)
        #expect(boosted["score"] == .double(0.75) && boosted["analysis_explanation"]?["original_score"] == .double(0.4), "\(boosted)")
        #expect(boosted["analysis_explanation"]?["score_context_improvement"]?.double.map { abs($0 - 0.35) < 1e-9 } == true)
        // Ad-hoc recognizers in Presidio's shape.
        let adHoc = try analyze(#"""
            {"text": "ticket TCK-204611 is open", "language": "en", "ad_hoc_recognizers": [{"name": "Ticket", "supported_language": "en",
             "patterns": [{"name": "ticket", "regex": "TCK-\\d{6}", "score": 0.5}], "context": ["ticket"], "supported_entity": "TICKET"}]}
            """#)
        #expect(spans(adHoc.json) == ["TICKET 7-17"] && adHoc.json?.elements?.first?["score"] == .double(0.85), "\(String(describing: adHoc.json))")
        // A batch of texts: a list of results per text.
        let batch = try analyze(#"{"text": ["mail anna@example.com", "nothing here"], "language": "en"}"#)
        #expect(batch.json?.elements?.count == 2 && spans(batch.json?.elements?.first) == ["EMAIL_ADDRESS 5-21"] && batch.json?.elements?.last?.elements?.isEmpty == true)

        // Refusals in Presidio's error shape.
        for (body, reason) in [
            (#"{"text": "x", "language": "xx"}"#, "language 'xx'"), (#"{"language": "en"}"#, "'text' is required"),
            (#"{"text": "x", "language": "en", "entities": ["NOPE"]}"#, "'NOPE' is not recognized"),
            (#"{"text": "x", "language": "en", "allow_list_match": "fuzzy"}"#, "allow_list_match 'fuzzy'"), ("[1, 2,]", "could not understand"),
        ] {
            let refused = try analyze(body)
            #expect(refused.status == 400 && refused.json?["error"]?.string?.contains(reason) == true, "\(body) → \(refused.status) \(String(describing: refused.json))")
        }
    }

    @Test func presidioAnonymizeAndDeanonymizeAnswerAsPresidio() throws {
        let (process, base) = try startAdmin()
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        func anonymize(_ body: String, _ path: String = "anonymize") throws -> (status: Int, json: JSONValue?) {
            try call("POST", base + "/api/v1/presidio/" + path, body: body)
        }
        // Presidio's documented request: contained spans dropped, DEFAULT for the rest, items from the end back.
        let documented = try anonymize("""
            {"text": "hello world, my name is Jane Doe. My number is: 034453334",
             "anonymizers": {"DEFAULT": {"type": "replace", "new_value": "ANONYMIZED"},
                             "PHONE_NUMBER": {"type": "mask", "masking_char": "*", "chars_to_mask": 4, "from_end": true}},
             "analyzer_results": [{"start": 24, "end": 32, "score": 0.8, "entity_type": "NAME"}, {"start": 24, "end": 28, "score": 0.8, "entity_type": "FIRST_NAME"},
                                  {"start": 29, "end": 32, "score": 0.6, "entity_type": "LAST_NAME"}, {"start": 48, "end": 57, "score": 0.95, "entity_type": "PHONE_NUMBER"}]}
            """)
        #expect(documented.status == 200 && documented.json?["text"] == .string("hello world, my name is ANONYMIZED. My number is: 03445****"))
        #expect(documented.json?["items"] == .array([
            .object(["start": .int(50), "end": .int(59), "entity_type": .string("PHONE_NUMBER"), "text": .string("03445****"), "operator": .string("mask")]),
            .object(["start": .int(24), "end": .int(34), "entity_type": .string("NAME"), "text": .string("ANONYMIZED"), "operator": .string("replace")]),
        ]), "\(String(describing: documented.json))")

        // hash: SHA-256 of the text's bytes and the salt (known answer); without a salt, a random one per value.
        let salted = try anonymize("""
            {"text": "call 034453334", "anonymizers": {"DEFAULT": {"type": "hash", "salt": "ferry-salt-0123456789"}},
             "analyzer_results": [{"start": 5, "end": 14, "score": 1, "entity_type": "PHONE_NUMBER"}]}
            """)
        #expect(salted.json?["text"] == .string("call 3eb4278399b3c32d3279107b6b4c4388958a7cb542153ceba057c3d298462795"), "\(String(describing: salted.json))")
        let unsalted = "{\"text\": \"034453334\", \"anonymizers\": {\"DEFAULT\": {\"type\": \"hash\", \"hash_type\": \"sha512\"}}, \"analyzer_results\": [{\"start\": 0, \"end\": 9, \"score\": 1, \"entity_type\": \"P\"}]}"
        let first = try anonymize(unsalted).json?["text"]?.string, second = try anonymize(unsalted).json?["text"]?.string
        #expect(first?.count == 128 && first != second)

        // Two types that overlap are each replaced whole (Presidio's engine), one type split by a space merges.
        let overlap = try anonymize("""
            {"text": "Dr Mary Washington Heights clinic", "anonymizers": {"DEFAULT": {"type": "keep"}},
             "analyzer_results": [{"start": 3, "end": 18, "score": 0.8, "entity_type": "NAME"}, {"start": 8, "end": 26, "score": 0.8, "entity_type": "LOCATION"}]}
            """)
        #expect(overlap.json?["text"] == .string("Dr Mary WashingtonWashington Heights clinic"), "\(String(describing: overlap.json))")
        let merged = try anonymize("""
            {"text": "Anna Berg called", "analyzer_results": [{"start": 0, "end": 4, "score": 0.8, "entity_type": "PERSON"}, {"start": 5, "end": 9, "score": 0.7, "entity_type": "PERSON"}]}
            """)
        #expect(merged.json?["text"] == .string("<PERSON> called") && merged.json?["items"]?.elements?.count == 1, "\(String(describing: merged.json))")

        // encrypt with the caller's key, deanonymize with it (Presidio's format, a fresh IV each time).
        let encrypted = try anonymize("""
            {"text": "IBAN DE89370400440532013000", "anonymizers": {"IBAN_CODE": {"type": "encrypt", "key": "0123456789abcdef"}},
             "analyzer_results": [{"start": 5, "end": 27, "score": 1, "entity_type": "IBAN_CODE"}]}
            """)
        let token = try #require(encrypted.json?["items"]?.elements?.first?["text"]?.string)
        #expect(token != "DE89370400440532013000" && encrypted.json?["text"]?.string == "IBAN " + token)
        let restored = try anonymize("""
            {"text": "IBAN \(token)", "deanonymizers": {"IBAN_CODE": {"type": "decrypt", "key": "0123456789abcdef"}},
             "anonymizer_results": [{"start": 5, "end": \(5 + token.count), "entity_type": "IBAN_CODE"}]}
            """, "deanonymize")
        #expect(restored.json?["text"] == .string("IBAN DE89370400440532013000") && restored.json?["items"]?.elements?.first?["operator"] == .string("decrypt"))
        #expect(try anonymize(#"{"key": "1111111111111111"}"#, "deanonymize").json == .object(["text": .string(""), "items": .array([])]))

        // Refusals, with Presidio's statuses and error bodies.
        for (body, path, status, reason) in [
            (#"{"text": "a", "anonymizers": {"DEFAULT": {"type": "custom", "new_value": "lambda x: x"}}, "analyzer_results": []}"#, "anonymize", 400, "Custom type anonymizer is not supported"),
            ("{ }", "anonymize", 400, "Invalid request json"), ("{ }", "deanonymize", 400, "Invalid request json"),
            (#"{"text": "a", "analyzer_results": [{"start": 0, "end": 1, "entity_type": "X",}]}"#, "anonymize", 400, "could not understand"),
            (#"{"text": "a", "anonymizers": {"DEFAULT": {"type": "encrypt", "key": "short"}}, "analyzer_results": [{"start": 0, "end": 1, "score": 1, "entity_type": "X"}]}"#, "anonymize", 422, "key must be of length 128, 192 or 256 bits"),
            (#"{"text": "abc", "analyzer_results": [{"start": 1, "end": 9, "score": 1, "entity_type": "X"}]}"#, "anonymize", 422, "text length is only 3"),
            (#"{"text": "a", "anonymizers": {"DEFAULT": {"type": "hash", "salt": "short"}}, "analyzer_results": []}"#, "anonymize", 422, "Salt must be at least 16 bytes"),
            (#"{"text": "a", "anonymizers": {"DEFAULT": {"type": "mask", "masking_char": "**", "chars_to_mask": 1}}, "analyzer_results": []}"#, "anonymize", 422, "masking_char"),
            (#"{"text": "notbase64", "deanonymizers": {"X": {"type": "decrypt", "key": "0123456789abcdef"}}, "anonymizer_results": [{"start": 0, "end": 9, "entity_type": "X"}]}"#, "deanonymize", 422, "Invalid input"),
            (#"{"text": "a", "deanonymizers": {"X": {"type": "replace"}}, "anonymizer_results": []}"#, "deanonymize", 400, "only decrypt"),
        ] {
            let refused = try anonymize(body, path)
            #expect(refused.status == status && refused.json?["error"]?.string?.contains(reason) == true, "\(body) → \(refused.status) \(String(describing: refused.json))")
        }

        // The GET lists.
        #expect(try call("GET", base + "/api/v1/presidio/anonymizers").json == .array(["hash", "mask", "redact", "replace", "encrypt", "keep"].map(JSONValue.string)))
        #expect(try call("GET", base + "/api/v1/presidio/deanonymizers").json == .array([.string("decrypt")]))
        #expect(try call("GET", base + "/api/v1/presidio/supportedentities").json?.elements?.contains(.string("CREDIT_CARD")) == true)
        #expect(try call("GET", base + "/api/v1/presidio/recognizers").json?.elements?.contains(.string("IbanRecognizer")) == true)
    }

    @Test func presidioRoutesNeedTheTokenLikeTheRest() throws {
        let (process, base) = try startAdmin(token: "presidio-token-0123456789")
        defer { process.signal(SIGTERM); process.waitForExit(timeout: 10) }
        let body = #"{"text": "mail anna@example.com", "language": "en"}"#
        #expect(try call("POST", base + "/api/v1/presidio/analyze", body: body).status == 401)
        #expect(try call("POST", base + "/api/v1/presidio/analyze", body: body, token: "presidio-token-0123456789").status == 200)
    }
}
