@testable import MeshGateway
import GStreamer
import Testing

/// Every transition of one peer's offer/answer exchange, without GStreamer: each row is a
/// sequence of inputs and the actions the last one gives.
struct NegotiationTests {
    typealias Input = Negotiation.Input
    typealias Action = Negotiation.Action

    static let candidate = RemoteInput.Candidate(mlineIndex: 0, mid: "0", line: "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host")

    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let role: Negotiation.Role
        /// Our id against the peer's "m": "a" sorts first (keeps its offer in glare), "z" after.
        let me: String
        let inputs: [Input]
        let last: [Action]
        let phase: Negotiation.Phase
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "an offerer that sends waits for its senders' caps", role: .offerer, me: "a",
            inputs: [.start(sends: true)], last: [.schedule(.deadline, after: .seconds(5))], phase: .preparing),
        Row(name: "a receive-only offerer offers at once", role: .offerer, me: "a",
            inputs: [.start(sends: false)], last: [.makeOffer(warning: nil)], phase: .offered),
        Row(name: "caps let the senders settle before the offer", role: .offerer, me: "a",
            inputs: [.start(sends: true), .sendersReady], last: [.schedule(.settled, after: .milliseconds(200))], phase: .preparing),
        Row(name: "settled senders make the offer", role: .offerer, me: "a",
            inputs: [.start(sends: true), .sendersReady, .timer(.settled)], last: [.makeOffer(warning: nil)], phase: .offered),
        Row(name: "no caps by the deadline: offer anyway, and say so", role: .offerer, me: "a",
            inputs: [.start(sends: true), .timer(.deadline)],
            last: [.makeOffer(warning: "sending branches have no caps yet; offering anyway")], phase: .offered),
        Row(name: "the deadline after the offer does nothing", role: .offerer, me: "a",
            inputs: [.start(sends: true), .sendersReady, .timer(.settled), .timer(.deadline)], last: [], phase: .offered),
        Row(name: "caps again after the offer do nothing", role: .offerer, me: "a",
            inputs: [.start(sends: false), .sendersReady], last: [], phase: .offered),
        Row(name: "the answer to our offer is applied", role: .offerer, me: "a",
            inputs: [.start(sends: false), .remoteAnswer], last: [.applyAnswer], phase: .offered),
        Row(name: "an applied answer completes the exchange", role: .offerer, me: "a",
            inputs: [.start(sends: false), .remoteAnswer, .remoteDescriptionSet], last: [], phase: .stable),
        Row(name: "an answer before our offer is refused", role: .offerer, me: "a",
            inputs: [.start(sends: true), .remoteAnswer], last: [.refuse("an answer before our offer")], phase: .preparing),
        Row(name: "a second answer is refused", role: .offerer, me: "a",
            inputs: [.start(sends: false), .remoteAnswer, .remoteDescriptionSet, .remoteAnswer],
            last: [.refuse("a second answer to one offer")], phase: .stable),
        Row(name: "an answer without an offer (we answer) is refused", role: .answerer, me: "a",
            inputs: [.start(sends: true), .remoteAnswer], last: [.refuse("an answer, but the peer made the offer")], phase: .answering),
        Row(name: "glare: the side whose id sorts first keeps its offer", role: .offerer, me: "a",
            inputs: [.start(sends: false), .remoteOffer],
            last: [.refuse("an offer while ours is out (glare): ours stands, as our id sorts first")], phase: .offered),
        Row(name: "glare before our offer left: the first id keeps its own", role: .offerer, me: "a",
            inputs: [.start(sends: true), .remoteOffer],
            last: [.refuse("an offer while ours is out (glare): ours stands, as our id sorts first")], phase: .preparing),
        Row(name: "glare: the side whose id sorts after answers theirs", role: .offerer, me: "z",
            inputs: [.start(sends: false), .remoteOffer], last: [.answerInNewConnection], phase: .offered),
        Row(name: "a second offer mid-call starts a new connection", role: .offerer, me: "a",
            inputs: [.start(sends: false), .remoteAnswer, .remoteDescriptionSet, .remoteOffer], last: [.answerInNewConnection], phase: .stable),
        Row(name: "an answerer's peer offering again starts a new connection", role: .answerer, me: "a",
            inputs: [.remoteDescriptionSet, .remoteOffer], last: [.answerInNewConnection], phase: .answering),
        Row(name: "candidates before the description wait", role: .answerer, me: "a",
            inputs: [.candidate(candidate)], last: [], phase: .answering),
        Row(name: "waiting candidates go in with the description", role: .offerer, me: "a",
            inputs: [.start(sends: false), .candidate(candidate), .candidate(candidate), .remoteAnswer, .remoteDescriptionSet],
            last: [.addCandidates([candidate, candidate])], phase: .stable),
        Row(name: "candidates after the description go in at once", role: .answerer, me: "a",
            inputs: [.remoteDescriptionSet, .candidate(candidate)], last: [.addCandidates([candidate])], phase: .answering),
        Row(name: "connected asks for a keyframe", role: .answerer, me: "a",
            inputs: [.connectionState(.connecting), .connectionState(.connected)], last: [.connected], phase: .answering),
        Row(name: "the same state twice is one change", role: .answerer, me: "a",
            inputs: [.connectionState(.connected), .connectionState(.connected)], last: [], phase: .answering),
        Row(name: "a failed connection is removed", role: .offerer, me: "a",
            inputs: [.start(sends: false), .connectionState(.failed)], last: [.remove(reason: "connection failed")], phase: .offered),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        var negotiation = Negotiation(role: row.role, me: row.me, peer: "m", maxEarlyCandidates: 3)
        var last: [Action] = []
        for input in row.inputs { last = negotiation.handle(input) }
        #expect(last == row.last)
        #expect(negotiation.phase == row.phase)
    }

    @Test func earlyCandidatesAreBounded() {
        var negotiation = Negotiation(role: .answerer, me: "a", peer: "m", maxEarlyCandidates: 2)
        #expect(negotiation.handle(.candidate(Self.candidate)) == [])
        #expect(negotiation.handle(.candidate(Self.candidate)) == [])
        #expect(negotiation.handle(.candidate(Self.candidate)) == [.refuse("more than 2 candidates before a description")])
        #expect(negotiation.pendingCandidates.count == 2)
        #expect(negotiation.handle(.remoteDescriptionSet) == [.addCandidates([Self.candidate, Self.candidate])])
        #expect(negotiation.pendingCandidates.isEmpty)
    }

    @Test func anAnswerSentCompletesTheAnswerer() {
        var negotiation = Negotiation(role: .answerer, me: "a", peer: "m", maxEarlyCandidates: 2)
        _ = negotiation.handle(.remoteDescriptionSet)
        negotiation.answered()
        #expect(negotiation.phase == .stable)
    }

    @Test func connectedOrConnectingCountsAsConnected() {
        var negotiation = Negotiation(role: .answerer, me: "a", peer: "m", maxEarlyCandidates: 2)
        #expect(!negotiation.isConnected)
        _ = negotiation.handle(.connectionState(.connecting))
        #expect(negotiation.isConnected)
        _ = negotiation.handle(.connectionState(.disconnected))
        #expect(!negotiation.isConnected)
    }
}

/// When a connected peer counts as stalled, and when as gone.
struct LivenessTests {
    let start = ContinuousClock.now

    @Test func silenceStallsAfterFiveSecondsAndIsGoneAfterTwentyFive() {
        var liveness = Liveness()
        #expect(liveness.update(arrived: 10, now: start) == nil)
        #expect(liveness.update(arrived: 10, now: start + .seconds(4)) == nil)
        #expect(liveness.update(arrived: 10, now: start + .seconds(5)) == .stalled)
        #expect(liveness.update(arrived: 10, now: start + .seconds(24)) == nil)
        #expect(liveness.update(arrived: 10, now: start + .seconds(25)) == .gone)
    }

    @Test func anythingArrivingEndsTheStall() {
        var liveness = Liveness()
        _ = liveness.update(arrived: 10, now: start)
        _ = liveness.update(arrived: 10, now: start + .seconds(6))
        #expect(liveness.update(arrived: 11, now: start + .seconds(7)) == .resumed)
        #expect(liveness.update(arrived: 11, now: start + .seconds(30)) == .stalled)
    }

    @Test func aPeerThatNeverSentAnythingIsNeverGone() {
        var liveness = Liveness()
        _ = liveness.update(arrived: 0, now: start)
        _ = liveness.update(arrived: 0, now: start + .seconds(6))
        #expect(liveness.update(arrived: 0, now: start + .seconds(60)) == nil)
    }

    @Test func offersToAPeerWhoseNetworkWentAwayComeLessOften() {
        #expect((1...6).map { GatewayLoop.reconnectDelay(attempt: $0) } == [5, 10, 20, 30, 30, 30].map { .seconds($0) })
    }
}
