import MeshProtocol
import MeshTestSupport

/// A member of a room that sends one gateway, `target`, what no browser would: each method is
/// one kind of malformed or excessive input. It speaks the protocol correctly otherwise, so
/// the server relays all of it.
struct HostilePeer {
    let client: TestClient
    let id: String
    let target: String

    static func join(_ url: String, id: String = "attacker", target: String) async throws -> HostilePeer {
        HostilePeer(client: try await TestClient.join(url, id: id), id: id, target: target)
    }

    /// A browser's audio-only offer that webrtcbin answers.
    static let validOffer = """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0\r
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r
        c=IN IP4 0.0.0.0\r
        a=ice-ufrag:abcd\r
        a=ice-pwd:abcdefghijklmnopqrstuvwx\r
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r
        a=setup:actpass\r
        a=mid:0\r
        a=sendrecv\r
        a=rtcp-mux\r
        a=rtpmap:111 opus/48000/2\r

        """

    func send(_ type: MessageType, sdp: SessionDescription? = nil, ice: IceCandidate? = nil) {
        client.send(Message(type: type, id: id, targetId: target, username: id, sdp: sdp, ice: ice))
    }

    func candidate(index: Int?, mid: String? = "0", _ line: String = "candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host") {
        send(.newCandidate, ice: IceCandidate(candidate: line, sdpMid: mid, sdpMLineIndex: index))
    }

    /// An offer the target answers; returns once it has.
    func offerAndWaitForTheAnswer() async throws {
        send(.sendOffer, sdp: .offer(Self.validOffer))
        _ = try await client.next(where: { $0.type == .sendAnswer }, within: .seconds(10))
    }

    /// Far more candidates than anyone gathers, to a session that has no description yet.
    func floodEarlyCandidates(_ count: Int) {
        for port in 1000..<(1000 + count) {
            candidate(index: 0, "candidate:1 1 UDP 2122252543 127.0.0.1 \(port) typ host")
        }
    }

    /// Indices no m-line has (negative ones and those past 32 bits trapped a gateway), and
    /// candidates too long, not candidates, or with an SDP line smuggled in.
    func sendMalformedCandidates() {
        for index in [-1, Int(UInt32.max) + 1, Int.min, Int.max, 7] { candidate(index: index) }
        for line in ["candidate:" + String(repeating: "9", count: 5000), "not a candidate", "candidate:1 1 UDP 1 127.0.0.1 9 typ host\r\na=x"] {
            candidate(index: 0, line)
        }
        candidate(index: nil, mid: String(repeating: "m", count: 1000))
        candidate(index: nil, mid: "no-such-mid")
    }

    /// Descriptions no gateway can or may answer: hundreds of m-lines (the answer would be
    /// over the server's frame limit), too big, an answer in place of an offer, no m-line.
    func sendUnanswerableDescriptions() {
        let manyLines = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
            + String(repeating: "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n", count: 300)
        let huge = manyLines.prefix(200) + String(repeating: "a=x-padding:0123456789abcdef\r\n", count: 5000)
        send(.sendOffer, sdp: .offer(manyLines))
        send(.sendOffer, sdp: .offer(String(huge)))
        send(.sendOffer, sdp: .answer(manyLines))
        send(.sendAnswer, sdp: .answer(manyLines))
        send(.sendOffer, sdp: .offer("v=0"))
    }
}
