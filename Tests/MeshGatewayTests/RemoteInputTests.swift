@testable import MeshGateway
import MeshProtocol
import Testing

/// What a peer sends, checked before it reaches webrtcbin: every hostile value is refused
/// with a reason, every value a browser sends passes.
struct RemoteInputTests {
    static let twoLines = SDPSummary(SDPTests.browserOffer)

    @Test(arguments: [
        (IceCandidate(candidate: "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0), 0),
        (IceCandidate(candidate: "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", sdpMid: "1", sdpMLineIndex: nil), 1),
        (IceCandidate(candidate: "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", sdpMid: nil, sdpMLineIndex: 1), 1),
        (IceCandidate(candidate: "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", sdpMid: nil, sdpMLineIndex: nil), 0),
    ])
    func browsersCandidatesFindTheirLine(ice: IceCandidate, line: Int) throws {
        let candidate = try #require(try RemoteInput.check(candidate: ice))
        #expect(try RemoteInput.mline(of: candidate, in: Self.twoLines) == line)
    }

    @Test func theEmptyEndOfCandidatesIsIgnored() throws {
        #expect(try RemoteInput.check(candidate: IceCandidate(candidate: "", sdpMid: "0", sdpMLineIndex: 0)) == nil)
    }

    @Test(arguments: [
        IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", sdpMLineIndex: -1),
        IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", sdpMLineIndex: Int(UInt32.max) + 1),
        IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", sdpMLineIndex: Int.min),
        IceCandidate(candidate: "candidate:" + String(repeating: "x", count: 2000), sdpMLineIndex: 0),
        IceCandidate(candidate: "hello", sdpMLineIndex: 0),
        IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host\r\na=evil", sdpMLineIndex: 0),
        IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", sdpMid: String(repeating: "m", count: 100)),
    ])
    func hostileCandidatesAreRefused(ice: IceCandidate) {
        #expect(throws: RemoteInput.Refusal.self) { try RemoteInput.check(candidate: ice) }
    }

    @Test func aCandidateForALineTheDescriptionLacksIsRefused() throws {
        let beyond = try #require(try RemoteInput.check(candidate: IceCandidate(candidate: "candidate:1 1 UDP 1 h 1 typ host", sdpMLineIndex: 2)))
        #expect(throws: RemoteInput.Refusal.self) { try RemoteInput.mline(of: beyond, in: Self.twoLines) }
        let unknownMid = try #require(try RemoteInput.check(candidate: IceCandidate(candidate: "candidate:1 1 UDP 1 h 1 typ host", sdpMid: "7")))
        #expect(throws: RemoteInput.Refusal.self) { try RemoteInput.mline(of: unknownMid, in: Self.twoLines) }
    }

    @Test func aBrowsersOfferPasses() throws {
        let summary = try RemoteInput.check(description: .offer(SDPTests.browserOffer), expected: "offer")
        #expect(summary.lines.count == 2)
    }

    @Test func descriptionsWeCannotAnswerAreRefused() {
        let manyLines = "v=0\r\n" + String(repeating: "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n", count: 17)
        let huge = SDPTests.browserOffer + String(repeating: "a=x-padding:0123456789\r\n", count: 3000)
        for (description, expected) in [
            (SessionDescription.offer(manyLines), "offer"),
            (.offer(huge), "offer"),
            (.offer("v=0\r\n"), "offer"),
            (.answer(SDPTests.browserOffer), "offer"),
        ] {
            #expect(throws: RemoteInput.Refusal.self) { try RemoteInput.check(description: description, expected: expected) }
        }
    }

    @Test func refusalsOfOnePeerGetOneLinePerInterval() {
        var log = RefusalLog(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(log.note("a", now: start) == .log(unlogged: 0))
        #expect(log.note("a", now: start + .seconds(1)) == .quiet)
        #expect(log.note("a", now: start + .seconds(2)) == .quiet)
        #expect(log.note("b", now: start + .seconds(2)) == .log(unlogged: 0))
        #expect(log.note("a", now: start + .seconds(11)) == .log(unlogged: 2))
        #expect(log.note("a", now: start + .seconds(12)) == .quiet)
    }
}

/// Secrets never reach a log line or an error message.
struct RedactedTests {
    @Test(arguments: [
        ("ws://127.0.0.1:8000/room/a?token=s3cret", "ws://127.0.0.1:8000/room/a?token=***"),
        ("wss://h/?token=a&x=b", "wss://h/?token=***&x=***"),
        ("ws://h:1/", "ws://h:1/"),
        ("turn://user:pa:ss@h:3478", "turn://user:***@h:3478"),
        ("turns://user:pass@h:5349?transport=tcp", "turns://user:***@h:5349?transport=***"),
        ("turn://h:3478", "turn://h:3478"),
        ("not a url?token=s3cret", "not a url?token=***"),
    ])
    func secretsAreMasked(url: String, shown: String) {
        #expect(Redacted.url(url) == shown)
    }
}

/// What goes from an offer into caps holds only values RTP allows.
struct OfferedCodecTests {
    @Test func codecsWithImpossibleValuesAreDropped() throws {
        let offer = """
            v=0\r
            m=video 9 UDP/TLS/RTP/SAVPF 96 100000 102 103\r
            a=rtpmap:96 VP8/90000\r
            a=rtpmap:100000 VP8/90000\r
            a=rtpmap:102 H264/90000\r
            a=fmtp:102 packetization-mode=1;profile-level-id=42e01f,payload=(int)5\r
            a=rtpmap:103 H264/90000\r
            a=fmtp:103 packetization-mode=1;profile-level-id=42E01F\r

            """
        let summary = try RemoteInput.check(description: .offer(offer), expected: "offer")
        #expect(summary.lines[0].codecs.map(\.payloadType) == [96, 103])
    }
}
