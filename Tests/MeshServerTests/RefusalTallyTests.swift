import MeshProtocol
import Testing
@testable import MeshServer

@Suite struct RefusalTallyTests {
    let start = ContinuousClock.now

    @Test func theFirstRefusalIsLoggedInFullAndTheRestSummedUpPerInterval() {
        var tally = RefusalTally()
        let first = tally.count(.invalidJSON, at: start)
        let rest = (0..<1000).filter { _ in tally.count(.rateLimited, at: start + .milliseconds(10)) }
        #expect(first)
        #expect(rest.isEmpty)
        #expect(tally.count(of: .rateLimited) == 1000)
        let early = tally.summary(at: start + .seconds(5), every: .seconds(10))
        let due = tally.summary(at: start + .seconds(10), every: .seconds(10))
        #expect(early == nil)
        #expect(due == .init(count: 1001, codes: [.invalidJSON: 1, .rateLimited: 1000], over: .seconds(10)))
        #expect(due?.codeList == "rate_limited:1000,invalid_json:1")
        // a new interval starts with the next refusal, in full again
        let next = tally.count(.unknownTarget, at: start + .seconds(11))
        #expect(next)
    }

    @Test func aLoneRefusalNeedsNoSummary() {
        var tally = RefusalTally()
        _ = tally.count(.missingType, at: start)
        let summary = tally.summary(at: start + .seconds(1), every: .seconds(10), final: true)
        #expect(summary == nil)
        #expect(tally.count(of: .missingType) == 0)
    }

    @Test func closingSumsUpAtOnce() {
        var tally = RefusalTally()
        _ = tally.count(.binaryFrame, at: start)
        _ = tally.count(.binaryFrame, at: start)
        let summary = tally.summary(at: start + .milliseconds(1), every: .seconds(10), final: true)
        #expect(summary?.count == 2)
    }
}
