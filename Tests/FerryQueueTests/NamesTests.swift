import FerryQueue
import Testing

/// The rule for names, and the message for a type no handler is registered for.
@Suite struct NamesTests {
    let known = ["email.send", "email.unsuppress", "ferry.noop", "ferry.echo", "trades.import"]

    @Test func aTypoNamesTheClosestKnownType() {
        #expect(Names.unknownType("email.send", known: known, allowance: "Pass --allow-unknown") == nil)
        for (typo, meant) in [("emial.send", "email.send"), ("email.sned", "email.send"), ("ferry.nop", "ferry.noop"), ("Trades.Import", "trades.import"), ("trade.import", "trades.import")] {
            let message = Names.unknownType(typo, known: known, allowance: "Pass --allow-unknown")
            #expect(message?.contains("no job type '\(typo)' is registered (did you mean '\(meant)'?)") == true, "\(typo): \(message ?? "nil")")
        }
    }

    @Test func aNameFarFromEveryKnownTypeGetsTheListAndHowToEnqueueItAnyway() throws {
        let message = try #require(Names.unknownType("billing.invoice", known: known, allowance: "Pass --allow-unknown"))
        #expect(message == "no job type 'billing.invoice' is registered; known types: email.send, email.unsuppress, ferry.echo, ferry.noop, trades.import. Pass --allow-unknown to enqueue a type another fleet serves.")
        #expect(Names.unknownType("x", known: [], allowance: "Send it anyway")?.contains("this app registers no job types") == true)
        // A long name is cut in the message; the suggestion search is bounded.
        let long = String(repeating: "a", count: 5000)
        #expect((Names.unknownType(long, known: known, allowance: "-")?.count ?? .max) < 400)
    }
}
