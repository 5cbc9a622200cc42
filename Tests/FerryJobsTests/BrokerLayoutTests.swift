@testable import FerryJobs
import FerryPostgres
import FerryQueue
import FerryWorker
import Foundation
import Testing

/// The shipped layouts on files shaped as each broker writes them (written here, one per shape
/// met in real exports), the profile language's features through PostgreSQL, and the import's
/// failures that retrying cannot mend.
@Suite(.serialized) struct BrokerLayoutTests {
    let fixture: DatabaseFixture
    let root: String

    init() throws {
        fixture = try DatabaseFixture()
        root = NSTemporaryDirectory() + "ferry-layouts-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/profiles", withIntermediateDirectories: true)
        try fixture.db.query("INSERT INTO users (id, handle) SELECT g, 'u' || g FROM generate_series(1, 40) g")
    }

    static var shippedProfiles: String { FileManager.default.currentDirectoryPath + "/jobs/trades.import" }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(root)/\(name)"))
        return name
    }

    func run(_ name: String, _ text: String, user: Int64, profile: String? = nil, profiles: String = shippedProfiles, job: String = UUID().uuidString,
             maxRejected: Double = 0.5) throws -> TradesImport.Summary {
        try run(name, bytes: Array(text.utf8), user: user, profile: profile, profiles: profiles, job: job, maxRejected: maxRejected)
    }

    func run(_ name: String, bytes: [UInt8], user: Int64, profile: String? = nil, profiles: String = shippedProfiles, job: String = UUID().uuidString,
             maxRejected: Double = 0.5) throws -> TradesImport.Summary {
        try TradesImport.run(
            path: "\(root)/\(try write(name, bytes))", source: name, userID: user, profileName: profile, profilesDirectory: profiles, jobID: job,
            maxRejectedShare: maxRejected, on: fixture.db
        )
    }

    /// One stored trade as text: `symbol side quantity@price currency opened(UTC) fees fees_currency`.
    func trades(_ user: Int64) throws -> [String] {
        try fixture.db.query("""
            SELECT symbol || ' ' || side || ' ' || quantity || '@' || entry_price || ' ' || COALESCE(currency, '-') || ' '
                   || to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' ' || COALESCE(fees::text, '-') || ' ' || COALESCE(fees_currency, '-') AS t
            FROM trades WHERE user_id = $1 ORDER BY opened_at, id
            """, [user]).rows.map { try $0.decode("t", as: String.self) }
    }

    struct Layout: Sendable, CustomTestStringConvertible {
        var profile: String
        var text: String
        var accepted: Int
        var skipped: Int
        var rejected = 0
        /// The first trade by time, as ``trades(_:)`` shows it.
        var first: String
        var testDescription: String { profile }
    }

    static let layouts: [Layout] = [
        Layout(profile: "interactive-brokers", text: """
            "ClientAccountID","CurrencyPrimary","Symbol","ISIN","DateTime","TradeDate","TransactionType","Quantity","TradePrice","Buy/Sell","IBCommission","IBCommissionCurrency","TradeID","LevelOfDetail","FifoPnlRealized"
            "U7654321","EUR","SAP","DE0007164600","20260714;031505","20260714","ExchTrade","10","201.35","BUY","-1.25","EUR","5550001","EXECUTION","0"
            "U7654321","EUR","SAP","DE0007164600","20260714;031505","20260714","ExchTrade","10","201.35","BUY","-1.25","EUR","","ORDER","0"
            "U7654321","USD","AAPL","US0378331005","20260715;154500","20260715","ExchTrade","-5","230.1","SELL","-0.35","USD","5550002","EXECUTION","12.5"
            """, accepted: 2, skipped: 1, first: "SAP buy 10@201.35 EUR 2026-07-14 07:15:05.000000 -1.25 EUR"),
        // A Flex query with the trade date only and ISINs; currency conversions carry no instrument.
        Layout(profile: "interactive-brokers", text: """
            "Buy/Sell","TradeDate","ISIN","Quantity","TradePrice","TradeMoney","CurrencyPrimary","IBCommission","IBCommissionCurrency"
            "BUY","20260105","IE00B4L5Y983","12","98.4","1180.8","EUR","-3","CHF"
            "SELL","20260105","","-5000","0.9312","-4656","EUR","-1.5","CHF"
            "BUY","20260212","IE00B4L5Y983","3","99.1","297.3","EUR","-3","CHF"
            """, accepted: 2, skipped: 0, rejected: 1, first: "IE00B4L5Y983 buy 12@98.4 EUR 2026-01-05 05:00:00.000000 -3 CHF"),
        Layout(profile: "bitvavo", text: """
            Timezone,Date,Time,Type,Currency,Amount,Quote Currency,Quote Price,Received / Paid Currency,Received / Paid Amount,Fee currency,Fee amount,Status,Transaction ID,Address
            Europe/Amsterdam,2026-07-02,09:12:44.207,buy,SOL,1.25,EUR,140.5,EUR,-175.63,EUR,0.43906,Completed,aa01,
            Europe/Amsterdam,2026-07-02,09:10:01,deposit,EUR,200,,,,,EUR,0,Completed,aa02,NL00***11
            Europe/Amsterdam,2026-07-03,18:00:00,sell,SOL,-0.5,EUR,150,EUR,75,EUR,0.1875,Completed,aa03,
            Europe/Amsterdam,2026-07-04,10:00:00,staking,SOL,0.001,,,,,SOL,,Distributed,aa04,
            """, accepted: 2, skipped: 2, first: "SOL buy 1.25@140.5 EUR 2026-07-02 07:12:44.207000 0.43906 EUR"),
        Layout(profile: "freetrade", text: """
            Title,Type,Timestamp,Account Currency,Total Amount,Buy / Sell,Ticker,ISIN,Price per Share in Account Currency,Stamp Duty,Quantity,Venue,Order ID,Order Type,Instrument Currency,Total Shares Amount,Price per Share,FX Rate,Base FX Rate,FX Fee (BPS),FX Fee Amount,Dividend Ex Date,Dividend Pay Date,Dividend Eligible Quantity,Dividend Amount Per Share,Dividend Gross Distribution Amount,Dividend Net Distribution Amount,Dividend Withheld Tax Percentage,Dividend Withheld Tax Amount
            Apple,ORDER,2026-05-04T14:31:07.120Z,GBP,101.23,BUY,AAPL,US0378331005,168.71666667,0.00,0.60000000,Drivewealth,ORD1,MARKET,USD,126.54,210.90000000,1.25001,1.25,45,0.45,,,,,,,,
            Apple,DIVIDEND,2026-05-15T17:00:00.000Z,GBP,0.12,,AAPL,US0378331005,,,0.6,,,,USD,,,,0.8,0,0.00,2026-05-11,2026-05-15,0.6,0.25,0.15,0.12,15,0.02
            """, accepted: 1, skipped: 1, first: "AAPL buy 0.6@210.9 USD 2026-05-04 14:31:07.120000 0.45 GBP"),
        Layout(profile: "kucoin", text: """
            tradeCreatedAt,orderId,symbol,side,price,size,funds,fee,feeCurrency
            2026-02-10 08:00:01,65c7a1,ETH-USDT,buy,2500.5,0.12345678,308.6987,0.3086987000001,USDT
            """, accepted: 1, skipped: 0, first: "ETH-USDT buy 0.12345678@2500.5 USDT 2026-02-10 08:00:01.000000 0.3086987000001 USDT"),
        Layout(profile: "trading212", text: """
            Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),Exchange rate,Result,Currency (Result),Total,Currency (Total),Withholding tax,Currency (Withholding tax),Notes,ID,Currency conversion fee,Currency (Currency conversion fee)
            Deposit,2026-01-05 09:00:00,,,,,,,,,,500.00,"EUR",,,"Transaction ID: X",d1,,
            Limit buy,2026-01-05 14:35:10.5,US5949181045,MSFT,"Microsoft",0.5000000000,420.10,USD,1.08,,"EUR",194.54,"EUR",,,,EOF1,0.29,"EUR"
            Stop sell,2026-01-06 15:00:00,US5949181045,MSFT,"Microsoft",0.2500000000,415.00,USD,1.09,-1.20,"EUR",95.17,"EUR",,,,EOF2,0.14,"EUR"
            Dividend (Dividend),2026-01-10 12:00:00,US5949181045,MSFT,"Microsoft",0.25,0.75,USD,,,"EUR",0.15,"EUR",0.03,USD,,,,
            """, accepted: 2, skipped: 2, first: "MSFT buy 0.5@420.1 USD 2026-01-05 14:35:10.500000 0.29 EUR"),
        Layout(profile: "revolut", text: """
            Date,Ticker,Type,Quantity,Price per share,Total Amount,Currency,FX Rate
            2026-04-01T13:30:02.118Z,NVDA,BUY - LIMIT,"1,5",$110.20,$165.30,USD,1.08
            2026-04-02T08:00:00.000000Z,,CASH TOP-UP,,,$500,USD,1.08
            2026-04-03T19:59:59.9Z,NVDA,SELL - STOP,0.5,$120.05,$60.02,USD,1.08
            """, accepted: 2, skipped: 1, first: "NVDA buy 1.5@110.2 USD 2026-04-01 13:30:02.118000 - -"),
        Layout(profile: "schwab", text: """
            "Transactions  for account XXXX-1234 as of 07/01/2026 09:00:00 ET"
            "Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"
            "06/03/2026 as of 06/02/2026","Buy","VTI","VANGUARD TOTAL STOCK MARKET ETF","1,200","$285.1234","$0.00","-$342,148.08"
            "06/10/2026","Qualified Dividend","VTI","VANGUARD TOTAL STOCK MARKET ETF","","","","$120.00"
            "06/20/2026","Sell","VTI","VANGUARD TOTAL STOCK MARKET ETF","200","$290.00","$0.05","$57,999.95"
            "Transactions Total","","","","","","","-$284,028.13"
            """, accepted: 2, skipped: 2, first: "VTI buy 1200@285.1234 USD 2026-06-03 04:00:00.000000 0 -"),
        Layout(profile: "coinbase", text: """
            You can use this transaction report to inform your likely tax obligations. For US customers, Sells, Converts, and Rewards Income are taxable events.



            Transactions
            User,someone@example.com,5f0c1a
            ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),Fees and/or Spread,Notes
            66a1b2,2026-02-01 16:20:11 UTC,Buy,BTC,0.0025,USD,"$95,120.44",$237.80,$240.19,$2.39,Bought 0.0025 BTC for $240.19 USD
            66a1b3,2026-02-03 09:00:00 UTC,Send,BTC,-0.001,USD,"$96,000.00",,,,Sent 0.001 BTC
            66a1b4,2026-02-05 12:00:00 UTC,Advanced Trade Sell,BTC,0.001,USD,"$97,000.10",$97.00,$96.61,$0.39,Sold 0.001 BTC
            """, accepted: 2, skipped: 1, first: "BTC buy 0.0025@95120.44 USD 2026-02-01 16:20:11.000000 2.39 -"),
        Layout(profile: "kraken", text: """
            "txid","ordertxid","pair","time","type","ordertype","price","cost","fee","vol","margin","misc","ledgers"
            "TQ7X2L-AB3CD-EFGH45","OQ7X2L-AB3CD-EFGH45","XXBTZEUR","2026-03-14 10:15:30.1234","buy","limit",62000.10000,620.00100,0.99200,0.01000000,0.00000,"","LA1,LA2"
            "TQ7X2L-AB3CD-EFGH46","OQ7X2L-AB3CD-EFGH46","XETHZUSD","2026-03-14 11:00:00.0001","sell","market",3500.00000,350.00000,0.91000,0.10000000,0.00000,"","LA3,LA4"
            """, accepted: 2, skipped: 0, first: "XXBTZEUR buy 0.01@62000.1 EUR 2026-03-14 10:15:30.123400 0.992 -"),
        Layout(profile: "degiro", text: """
            Date,Time,Product,ISIN,Reference exchange,Venue,Quantity,Price,,Local value,,Value,,Exchange rate,Transaction and/or third party fees,,Total,,Order ID
            26-01-2026,15:30,VANGUARD S&P500 UCITS ETF,IE00B3XXRP09,EAM,XAMS,5,101.2500,EUR,-506.25,EUR,-506.25,EUR,,-2.00,EUR,-508.25,EUR,c1d2e3f4-0000-0000-0000-000000000001
            27-01-2026,09:04,APPLE INC. - COMMON ST,US0378331005,NDQ,XNAS,-2,230.5000,USD,461.00,USD,425.12,EUR,1.0844,-1.00,EUR,424.12,EUR,c1d2e3f4-0000-0000-0000-000000000002
            """, accepted: 2, skipped: 0, first: "IE00B3XXRP09 buy 5@101.25 EUR 2026-01-26 14:30:00.000000 -2 EUR"),
    ]

    @Test(arguments: zip(layouts.indices, layouts))
    func eachShippedLayoutReadsItsBrokersExport(_ index: Int, _ layout: Layout) throws {
        let user = Int64(index + 1)
        let summary = try run("\(layout.profile)-\(index).csv", layout.text, user: user)
        #expect(summary.profile == layout.profile, "detected \(summary.profile)")
        #expect(summary.accepted == layout.accepted && summary.skipped == layout.skipped && summary.rejected == layout.rejected, "\(summary)")
        let stored = try trades(user)
        #expect(stored.first == layout.first, "\(stored)")
        // The same file again adds nothing.
        let again = try run("\(layout.profile)-\(index)-again.csv", layout.text, user: user)
        #expect(again.accepted == 0 && again.duplicates == layout.accepted, "\(again)")
    }

    @Test func theGenericLayoutReadsISO8601() throws {
        let summary = try run("iso.csv", """
            symbol,side,quantity,entry_price,opened_at,closed_at
            AAPL,buy,1,190,2026-03-01T10:00:00Z,2026-03-01T11:00:00.250Z
            AAPL,buy,2,190,2026-03-01 10:00:00+00:00,
            AAPL,buy,3,190,2026-03-01T10:00:00+01:00,2026-03-01 10:30:00 UTC
            AAPL,buy,4,190,2026-03-01 10:00:00,
            AAPL,buy,5,190,2026-03-01T10:00:00.123456-05:00,
            """, user: 20)
        #expect(summary.profile == "ferry" && summary.accepted == 5 && summary.rejected == 0, "\(summary)")
        let opened = try fixture.db.query(
            "SELECT to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM trades WHERE user_id = 20 ORDER BY quantity"
        ).rows.map { try $0.decode("t", as: String.self) }
        #expect(opened == ["2026-03-01 10:00:00.000000", "2026-03-01 10:00:00.000000", "2026-03-01 09:00:00.000000", "2026-03-01 10:00:00.000000", "2026-03-01 15:00:00.123456"])
    }

    /// A profile folder: the shipped profiles plus `extra` files.
    func profiles(_ extra: [String: String]) throws -> String {
        let directory = root + "/profiles-\(UUID().uuidString.prefix(6))"
        try FileManager.default.copyItem(atPath: Self.shippedProfiles, toPath: directory)
        for (name, text) in extra { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name).yml")) }
        return directory
    }

    @Test func latin1TitlesAboveTheHeaderPerColumnDecimalsAndTradesInText() throws {
        let directory = try profiles([
            // A German bank's depot export: Windows-1252, semicolons, two title lines, date and time
            // apart, decimal commas in prices but points in the fee column, "Kauf"/"Verkauf".
            "bank": """
                name: Bank depot export
                delimiter: ";"
                encoding: windows-1252
                decimal: ","
                thousands: "."
                date_format: "dd.MM.yyyy HH:mm"
                time_zone: Europe/Berlin
                header_row: '^Datum;Uhrzeit;'
                columns:
                  opened_at: [Datum, Uhrzeit]
                  symbol: WKN
                  side: Geschäftsart
                  quantity: Stück
                  entry_price: Kurs
                  currency: Währung
                  fees: {column: Entgelt, decimal: ".", thousands: none}
                skip: {Geschäftsart: [Ausschüttung]}
                sides: {buy: [Kauf], sell: [Verkauf]}
                """,
            // A statement that writes each trade as text.
            "textual": """
                name: Trades in text
                date_format: "d MMM yyyy h:mm a"
                time_zone: UTC
                columns:
                  opened_at: Date
                  side: {column: Description, pattern: '^(Buy|Sell) '}
                  quantity: {column: Description, pattern: '^\\w+ ([0-9.]+) '}
                  symbol: {column: Description, pattern: ' ([A-Z.]+) @'}
                  entry_price: {column: Description, pattern: '@ ([0-9.]+)'}
                  currency: {column: Description, pattern: '([A-Z]{3})$'}
                only: {Category: [Trade]}
                """,
        ])
        var bytes = Array("Depotumsätze\r\nDepot 1234567;Stand 01.07.2026\r\n\r\n".utf8)
        bytes += Array("Datum;Uhrzeit;WKN;Geschäftsart;Stück;Kurs;Währung;Entgelt\r\n".utf8)
        bytes += Array("03.11.2026;09:15;716460;Kauf;1.000;234,50;EUR;9.90\r\n".utf8)
        bytes += Array("04.11.2026;17:35;716460;Verkauf;500;1.240,05;EUR;9.90\r\n".utf8)
        bytes += Array("05.11.2026;10:00;716460;Ausschüttung;500;1,20;€;0\r\n".utf8)
        // As the bank writes it: Windows-1252 bytes (ä E4, ü FC, € 80), which are not UTF-8.
        let latin = try latin1(bytes)
        #expect(String(validating: latin, as: UTF8.self) == nil)
        let summary = try run("depot.csv", bytes: latin, user: 21, profiles: directory)
        #expect(summary.profile == "bank" && summary.accepted == 2 && summary.skipped == 1 && summary.rejected == 0, "\(summary)")
        #expect(try trades(21) == [
            "716460 buy 1000@234.5 EUR 2026-11-03 08:15:00.000000 9.9 -", "716460 sell 500@1240.05 EUR 2026-11-04 16:35:00.000000 9.9 -",
        ])

        let text = try run("statement.csv", """
            Date,Category,Description
            3 Sep 2026 2:15 PM,Trade,Sell 3 AAPL @ 139.74 USD
            4 Sep 2026 9:00 AM,Cash,Deposit 100 USD
            5 Sep 2026 11:30 AM,Trade,Buy 0.5 BRK.B @ 410.2 USD
            6 Sep 2026 11:30 AM,Trade,Dividend AAPL
            """, user: 22, profiles: directory)
        #expect(text.profile == "textual" && text.accepted == 2 && text.skipped == 1 && text.rejected == 1, "\(text)")
        #expect(try trades(22) == ["AAPL sell 3@139.74 USD 2026-09-03 14:15:00.000000 - -", "BRK.B buy 0.5@410.2 USD 2026-09-05 11:30:00.000000 - -"])
        let refused = try fixture.db.query("SELECT reason FROM import_errors WHERE import_id = $1", [text.importID]).first?.decode("reason", as: String.self)
        #expect(refused?.contains("does not match the pattern") == true, "\(String(describing: refused))")
    }

    /// UTF-8 text as Windows-1252 bytes (each character below U+0100, and €).
    func latin1(_ utf8: [UInt8]) throws -> [UInt8] {
        try String(decoding: utf8, as: UTF8.self).unicodeScalars.map { scalar in
            if scalar == "€" { return 0x80 }
            guard scalar.value < 0x100 else { throw CocoaError(.fileWriteInapplicableStringEncoding) }
            return UInt8(scalar.value)
        }
    }

    @Test func oneBrokenProfileBreaksNoOtherImportAndNamingItGoesDeadWithTheReason() throws {
        let directory = try profiles(["broken": "columns: {symbl: S}\n"])
        let summary = try run("ok.csv", "symbol,side,quantity,entry_price,opened_at\nAAPL,buy,1,2,2026-01-02T10:00:00Z\n", user: 23, profiles: directory)
        #expect(summary.accepted == 1)
        do {
            _ = try run("named.csv", "symbol,side,quantity,entry_price,opened_at\n", user: 23, profile: "broken", profiles: directory)
            Issue.record("an invalid profile was used")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("profile 'broken' is invalid") && error.message.contains("unknown field 'symbl'"), "\(error)")
        }
        do {
            _ = try run("unknown.csv", "When,What\n1,2\n", user: 23, profiles: directory)
            Issue.record("an unknown layout was imported")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("profiles refused as invalid: broken"), "\(error)")
        }
        // The import rows of both say failed, with the reason: none is left running.
        let statuses = try fixture.db.query("SELECT source, status, error FROM imports WHERE user_id = 23 ORDER BY id").rows.map {
            (try $0.decode("source", as: String.self), try $0.decode("status", as: String.self), try $0.decode("error", as: String?.self) ?? "")
        }
        #expect(statuses.map(\.1) == ["succeeded", "failed", "failed"], "\(statuses)")
        #expect(statuses[2].2.contains("the header does not match any profile"), "\(statuses)")
    }

    @Test func stoppingOverTheRefusedShareTakesBackItsTradesAndARetryStartsOver() throws {
        let job = UUID().uuidString
        var text = "symbol,side,quantity,entry_price,opened_at\n"
        for index in 0..<12_000 { text += "S\(index),buy,1,2,2026-01-02 10:00:00\n" }
        for _ in 0..<14_000 { text += "S,hold,1,2,2026-01-02 10:00:00\n" }
        do {
            _ = try run("mostly-bad.csv", text, user: 24, job: job)
            Issue.record("a file of mostly refused rows was imported")
        } catch let error as PermanentJobError {
            #expect(error.message.contains("over the 50% limit") && error.message.contains("trades it had added were removed"), "\(error)")
        }
        #expect(try fixture.int("SELECT count(*)::int FROM trades WHERE user_id = 24") == 0)
        let row = try #require(try fixture.db.query("SELECT status, accepted::int AS accepted, error FROM imports WHERE job_id = $1", [job]).first)
        #expect(try row.decode("status", as: String.self) == "failed" && row.decode("error", as: String.self).contains("removed"))
        // The dead job retried with a higher limit: the import starts over and takes every good row.
        let again = try run("mostly-bad.csv", text, user: 24, job: job, maxRejected: 0.9)
        #expect(again.accepted == 12_000 && again.rejected == 14_000 && again.duplicates == 0, "\(again)")
        #expect(try fixture.int("SELECT count(*)::int FROM import_errors WHERE import_id = $1", [again.importID]) == 14_000)
    }

    @Test func theProfilesFolderFollowsTheJobsFolder() throws {
        let jobs = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: jobs, withIntermediateDirectories: true)
        try "parameters: {profiles: layouts}\n".write(toFile: jobs + "/trades.import.yml", atomically: true, encoding: .utf8)
        var registry = JobRegistry(settingsDirectory: jobs)
        try registry.register(TradesImport())
        let settings = try #require(registry[TradesImport.type]?.settings)
        #expect(TradesImport.profilesDirectory(settings) == jobs + "/layouts")
        var absolute = settings
        absolute.parameters["profiles"] = "/srv/profiles"
        #expect(TradesImport.profilesDirectory(absolute) == "/srv/profiles")
        var plain = JobRegistry(settingsDirectory: root + "/nothing-here")
        try plain.register(TradesImport())
        #expect(TradesImport.profilesDirectory(try #require(plain[TradesImport.type]?.settings)) == root + "/nothing-here/trades.import")
    }
}
