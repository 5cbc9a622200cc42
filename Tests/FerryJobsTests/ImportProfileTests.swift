@testable import FerryJobs
import Foundation
import Testing

/// The import profile language without a database: times, numbers, words, and the profiles a
/// user may get wrong.
@Suite struct ImportProfileTests {
    func parse(_ format: String, _ text: String) throws -> DateFormat.Parsed? {
        try DateFormat(format).parse(Array(text.utf8)[...])
    }

    @Test func iso8601ReadsWhatExportsWrite() throws {
        let cases: [(String, String, String?)] = [
            ("2026-03-01T10:00:00Z", "2026-03-01 10:00:00", "UTC"),
            ("2026-03-01 10:00:00+00:00", "2026-03-01 10:00:00", "UTC"),
            ("2026-03-01 10:00:00 UTC", "2026-03-01 10:00:00", "UTC"),
            ("2026-03-01T10:00:00.5Z", "2026-03-01 10:00:00.5", "UTC"),
            ("2019-12-02T08:23:08.459586Z", "2019-12-02 08:23:08.459586", "UTC"),
            ("2026-03-01T10:00:00.123456789Z", "2026-03-01 10:00:00.123456789", "UTC"),
            // Offsets are turned into UTC, across days, months and years.
            ("2026-03-01T10:00:00+01:00", "2026-03-01 09:00:00", "UTC"),
            ("2026-03-01T00:30:00+0200", "2026-02-28 22:30:00", "UTC"),
            ("2024-03-01T00:30:00+02", "2024-02-29 22:30:00", "UTC"),
            ("2025-12-31T20:00:00-05:00", "2026-01-01 01:00:00", "UTC"),
            ("2026-03-01T10:00:00.25-09:30", "2026-03-01 19:30:00.25", "UTC"),
            // No zone: the profile's (or the row's).
            ("2026-03-01 10:00:00", "2026-03-01 10:00:00", nil),
            ("2026-03-01T10:00", "2026-03-01 10:00:00", nil),
            ("2026-03-01", "2026-03-01 00:00:00", nil),
        ]
        for (text, local, zone) in cases {
            let parsed = try parse("iso8601", text)
            #expect(parsed == DateFormat.Parsed(local: local, zone: zone), "\(text) → \(String(describing: parsed))")
        }
        for text in ["2026-02-30T10:00:00Z", "2026-03-01T25:00:00Z", "2026-03-01T10:00:00+25:00", "2026-03-01X10:00", "26-03-01", "2026-03-01T10:00:00Q", ""] {
            #expect(try parse("iso8601", text) == nil, "\(text)")
        }
    }

    @Test func patternsReadNamesShortFieldsClocksZonesAndOptionalParts() throws {
        #expect(try parse("d MMM yyyy HH:mm", "3 Sep 2026 09:05")?.local == "2026-09-03 09:05:00")
        #expect(try parse("MMMM d, yyyy", "September 30, 2026")?.local == "2026-09-30 00:00:00")
        #expect(try parse("dd-MMM-yy", "05-sept-26")?.local == "2026-09-05 00:00:00")
        #expect(try parse("M/d/yyyy h:mm:ss a", "1/5/2026 12:15:00 AM")?.local == "2026-01-05 00:15:00")
        #expect(try parse("M/d/yyyy h:mm a", "12/31/2026 12:00 pm")?.local == "2026-12-31 12:00:00")
        #expect(try parse("M/d/yyyy h:mm a", "7/4/2026 3:07 p.m.")?.local == "2026-07-04 15:07:00")
        #expect(try parse("M/d/yyyy h:mm a", "7/4/2026 13:07 PM") == nil)
        #expect(try parse("yyyyMMdd[;HHmmss]", "20230403;095853")?.local == "2023-04-03 09:58:53")
        #expect(try parse("yyyyMMdd[;HHmmss]", "20230522")?.local == "2023-05-22 00:00:00")
        #expect(try parse("yyyy-MM-dd HH:mm:ss[.SSS]", "2023-11-30 11:36:46.62")?.local == "2023-11-30 11:36:46.62")
        #expect(try parse("yyyy-MM-dd'T'HH:mm:ss z", "2026-07-01T10:00:00 Europe/Berlin") == DateFormat.Parsed(local: "2026-07-01 10:00:00", zone: "Europe/Berlin"))
        #expect(try parse("yyyy-MM-dd HH:mm z", "2026-07-01 10:00 Mars/Olympus") == nil)
        #expect(try parse("dd.MM.yyyy 'um' HH:mm 'Uhr'", "03.11.2026 um 09:15 Uhr")?.local == "2026-11-03 09:15:00")
        #expect(try parse("yyyy-MM-dd", "1969-12-31") == nil)
        #expect(try parse("d.M.yyyy", "29.2.2025") == nil)
    }

    @Test func badPatternsAreRefusedSayingWhy() {
        for (pattern, reason) in [
            ("dd.MM.", "has no year"), ("yyyy-MM-ddTHH:mm", "'T' is not a pattern letter"), ("yyyy-MM-dd hh:mm", "needs an AM/PM marker"),
            ("yyyy-MM-dd [HH:mm", "'[' is not closed"), ("yyyy-MM-dd HH:mm]", "']' without '['"), ("yyyy 'at", "quote (') is not closed"),
            ("yyyy-MM-dd[]", "empty optional part"),
        ] {
            #expect(throws: DateFormat.Invalid.self, "\(pattern)") { try DateFormat(pattern) }
            do { _ = try DateFormat(pattern) } catch { #expect(error.description.contains(reason), "\(pattern): \(error)") }
        }
    }

    @Test func numbersAsBrokersWriteThem() {
        func number(_ text: String, _ format: NumberFormat = NumberFormat()) -> String? {
            guard case .success(let parsed) = format.parse(text) else { return nil }
            return (parsed.negative ? "-" : "") + parsed.text
        }
        #expect(number("$52.07") == "52.07")
        #expect(number("-$30.93") == "-30.93")
        #expect(number("$-30.93") == "-30.93")
        #expect(number("€ 88.94") == "88.94")
        #expect(number("12.50 €") == "12.5")
        #expect(number("(1,234.50)", NumberFormat(thousands: UInt8(ascii: ","))) == "-1234.5")
        #expect(number("1.234,56-", NumberFormat(decimal: UInt8(ascii: ","), thousands: UInt8(ascii: "."))) == "-1234.56")
        #expect(number("−7") == "-7")
        #expect(number("0.00373590975") == "0.00373590975")
        #expect(number("0.2808559209946952") == "0.2808559209946952")
        #expect(number("-0.0000") == "0")
        #expect(number("1,5", NumberFormat(decimal: UInt8(ascii: "."), otherDecimal: UInt8(ascii: ","))) == "1.5")
        #expect(number("1.5", NumberFormat(decimal: UInt8(ascii: "."), otherDecimal: UInt8(ascii: ","))) == "1.5")
        // Rounding, half away from zero, carrying into the integer part.
        #expect(number("0.123456785", NumberFormat(roundTo: 8)) == "0.12345679")
        #expect(number("-2.5", NumberFormat(roundTo: 0)) == "-3")
        #expect(number("9.9999999999", NumberFormat(roundTo: 8)) == "10")
        // Refused: not numbers, more than 18 decimals without rounding, absurd sizes.
        for text in ["", "$", "1.2.3", "12a", "--5", "1e5", "5 apples", "(5", "0x10"] { #expect(number(text) == nil, "\(text)") }
        func failure(_ text: String) -> NumberFormat.Failure? {
            if case .failure(let reason) = NumberFormat().parse(text) { return reason }
            return nil
        }
        #expect(failure("0.1234567890123456789") == .tooManyDecimals(19))
        #expect(failure(String(repeating: "9", count: 23)) == .tooManyIntegerDigits(23))
        #expect(number("0.1234567890123456789", NumberFormat(roundTo: 18)) == "0.123456789012345679")
    }

    @Test func wordsWithStarsAndEncodings() {
        #expect(WordPattern("* buy").matches("market buy") && WordPattern("* buy").matches("stop buy") && !WordPattern("* buy").matches("buy back"))
        #expect(WordPattern("BUY - *").matches("buy - market") && !WordPattern("BUY - *").matches("buyback"))
        #expect(WordPattern("a*b*c").matches("axxbyyc") && !WordPattern("a*b*c").matches("acb") && WordPattern("*").matches(""))
        #expect(TextEncoding.latin1.decode([0x4B, 0xE4, 0x75, 0x66]) == "Käuf")
        #expect(TextEncoding.windows1252.decode([0x80, 0x20, 0x35]) == "€ 5")
        #expect(TextEncoding.windows1252.decode([0x81]) == nil)
        #expect(TextEncoding.utf8.decode([0xFF]) == nil)
        #expect(TextEncoding(name: "ISO-8859-1") == .latin1 && TextEncoding(name: "cp1252") == .windows1252 && TextEncoding(name: "ebcdic") == nil)
    }

    @Test func mistakesInAProfileNameTheKey() {
        let base = "columns: {symbol: S, side: D, quantity: Q, entry_price: P, opened_at: T}\n"
        let cases: [(String, String)] = [
            ("colums: {symbol: S}", "unknown setting 'colums'"),
            ("columns: {symbol: S, side: D, quantity: Q, entry_price: P}", "columns must name opened_at"),
            ("columns: {symbl: S}", "unknown field 'symbl'"),
            (base + "date_format: 'dd.MM.'", "date_format: date_format 'dd.MM.' has no year"),
            (base + "time_zone: Mars/Olympus", "time_zone 'Mars/Olympus' is not an IANA time zone name"),
            (base + "time_zone: GMT+1", "time_zone 'GMT+1' is not an IANA"),
            (base + "time_zone: {col: Zone}", "time_zone must be"),
            (base + "delimiter: ';;'", "delimiter must be one character"),
            (base + "decimal: ','\nthousands: ','", "decimal and thousands are both ','"),
            (base + "round_to: 30", "round_to must be a whole number of decimals from 0 to 18"),
            (base + "encoding: ebcdic", "encoding 'ebcdic' is not one of utf-8, latin-1, windows-1252"),
            (base + "only: [buy]", "only must map header names to words"),
            (base + "sides: {long: [L]}", "unknown side 'long'"),
            (base + "signed_quantity: maybe", "signed_quantity must be true or false"),
            (base + "header_row: '(unclosed'", "header_row is not a regular expression"),
            ("columns: {symbol: {column: S, pattern: '[a-'}, side: D, quantity: Q, entry_price: P, opened_at: T}", "columns.symbol.pattern is not a regular expression"),
            ("columns: {symbol: {column: S, decimal: ','}, side: D, quantity: Q, entry_price: P, opened_at: T}", "columns.symbol: decimal, thousands and round_to apply to amounts only"),
            ("columns: {symbol: {column: S, value: X}, side: D, quantity: Q, entry_price: P, opened_at: T}", "columns.symbol must name exactly one of"),
            ("columns: {symbol: {colum: S}, side: D, quantity: Q, entry_price: P, opened_at: T}", "unknown option 'colum' in columns.symbol"),
            ("columns: {symbol: S, side: D, quantity: Q, entry_price: P, opened_at: {column: T, date_format: 'HH:mm'}}", "columns.opened_at.date_format: date_format 'HH:mm' has no year"),
            ("columns: {symbol: [], side: D, quantity: Q, entry_price: P, opened_at: T}", "columns.symbol must be a list of header names"),
            ("- a list", "must be a map of settings"),
            ("columns: {symbol: S, side: [", "is not valid YAML"),
        ]
        for (yaml, reason) in cases {
            do {
                _ = try ImportProfile.parse(yaml: yaml, name: "broken")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains(reason), "\(yaml) → \(error.description)")
            }
        }
    }

    @Test func theDocumentedProfileExampleIsAValidProfile() throws {
        let readme = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/docs/jobs.md", encoding: .utf8)
        let section = try #require(readme.range(of: "### Import profiles\n\n```yaml\n"), "docs/jobs.md lost its profile example")
        let end = try #require(readme.range(of: "\n```", range: section.upperBound..<readme.endIndex))
        let profile = try ImportProfile.parse(yaml: String(readme[section.upperBound..<end.lowerBound]), name: "readme")
        #expect(profile.title == "Bitvavo transaction history" && profile.timeZoneColumn == "Timezone" && profile.rules.count == 2 && profile.signedQuantity)
        #expect(profile.fields[.quantity]?.number?.otherDecimal == UInt8(ascii: ",") && profile.number.roundTo == 8)
    }

    @Test func aHeaderIsFoundBelowTitlesAndTheMoreSpecificProfileWins() throws {
        #expect(ImportProfile.Field.allCases.map(\.ordinal) == Array(ImportProfile.Field.allCases.indices))
        let generic = try ImportProfile.parse(yaml: "columns: {symbol: Symbol, side: Side, quantity: Qty, entry_price: Price, opened_at: Time}", name: "a-generic")
        let specific = try ImportProfile.parse(yaml: """
            columns: {symbol: Symbol, side: Side, quantity: Qty, entry_price: Price, opened_at: Time, fees: Fee, trade_id: Id}
            header_row: '^Id,'
            """, name: "b-specific")
        let text = "Account statement for U123\n\nFrom,2026-01-01,To,2026-01-31\nId,Symbol,Side,Qty,Price,Time,Fee\n1,AAPL,buy,1,2,2026-01-02 10:00:00,0.5\n"
        let found = try #require(TradesImport.findHeader(Array(text.utf8), wholeFile: true, profiles: [generic, specific]))
        #expect(found.profile.name == "b-specific" && found.header.line == 4 && found.header.nextLine == 5)
        // header_row keeps a profile off a header it would otherwise read.
        let other = "Symbol,Side,Qty,Price,Time,Fee,Id\nAAPL,buy,1,2,2026-01-02 10:00:00,0.5,1\n"
        #expect(TradesImport.findHeader(Array(other.utf8), wholeFile: true, profiles: [generic, specific])?.profile.name == "a-generic")
    }
}
