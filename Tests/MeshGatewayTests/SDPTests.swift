@testable import MeshGateway
import Testing

/// What the gateway reads from offers: browsers choose their own payload types and offer
/// several H.264 profiles, and only one of them is what MeshGate sends.
struct SDPTests {
    /// The media part of an offer as Chromium writes it (trimmed to what matters here).
    static let browserOffer = """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0 1\r
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r
        a=mid:0\r
        a=sendrecv\r
        a=rtpmap:111 opus/48000/2\r
        a=fmtp:111 minptime=10;useinbandfec=1\r
        a=rtpmap:63 red/48000/2\r
        m=video 9 UDP/TLS/RTP/SAVPF 96 102 106 112\r
        a=mid:1\r
        a=recvonly\r
        a=rtpmap:96 VP8/90000\r
        a=rtpmap:102 H264/90000\r
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r
        a=rtpmap:106 H264/90000\r
        a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r
        a=rtpmap:112 H264/90000\r
        a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r

        """

    @Test func readsKindDirectionMidAndCodecsPerLine() {
        let offer = SDPSummary(Self.browserOffer)
        #expect(offer.lines.map(\.kind) == ["audio", "video"])
        #expect(offer.lines.map(\.direction) == ["sendrecv", "recvonly"])
        #expect(offer.lines[1].sends == false && offer.lines[1].receives)
        #expect(offer.mid(ofLine: 1) == "1")
        #expect(offer.mid(ofLine: 2) == nil)
        #expect(offer.codec("OPUS", kind: .audio)?.payloadType == 111)
        #expect(offer.codec("VP8", kind: .video)?.payloadType == 96)
        #expect(offer.codec("VP8", kind: .audio) == nil)
    }

    @Test func picksConstrainedBaselineH264WithPacketizationModeOne() {
        let h264 = SDPSummary(Self.browserOffer).codec("H264", kind: .video)
        #expect(h264?.payloadType == 112)
        #expect(h264?.parameter("profile-level-id") == "42e01f")
        #expect(h264?.parameter("level-asymmetry-allowed") == "1")
        #expect(h264?.parameter("sprop-parameter-sets") == nil)
    }

    /// Firefox writes its attributes sorted by name: every a=fmtp comes before the a=rtpmap lines.
    @Test func readsFormatParametersThatComeBeforeTheirCodec() {
        let sdp = """
            v=0\r
            m=video 9 UDP/TLS/RTP/SAVPF 120 126 105\r
            a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\r
            a=fmtp:105 profile-level-id=42e01f;level-asymmetry-allowed=1\r
            a=fmtp:120 max-fs=12288;max-fr=60\r
            a=rtpmap:120 VP8/90000\r
            a=rtpmap:126 H264/90000\r
            a=rtpmap:105 H264/90000\r
            m=audio 9 UDP/TLS/RTP/SAVPF 109\r
            a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r
            a=rtpmap:109 opus/48000/2\r

            """
        let offer = SDPSummary(sdp)
        #expect(offer.codec("H264", kind: .video)?.payloadType == 126)
        #expect(offer.codec("VP8", kind: .video)?.parameter("max-fs") == "12288")
        #expect(offer.codec("OPUS", kind: .audio)?.parameter("useinbandfec") == "1")
    }

    @Test func noH264WithoutPacketizationModeOne() {
        let sdp = "v=0\r\nm=video 9 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=0\r\n"
        #expect(SDPSummary(sdp).codec("H264", kind: .video) == nil)
    }

    @Test func aSessionLevelDirectionAppliesToEveryLine() {
        let sdp = "v=0\r\na=sendonly\r\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 96\r\na=inactive\r\n"
        #expect(SDPSummary(sdp).lines.map(\.direction) == ["sendonly", "inactive"])
    }

    @Test func readsHeaderExtensionsPerLineWithOrWithoutDirection() {
        let sdp = """
            v=0\r
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
            m=video 9 UDP/TLS/RTP/SAVPF 96\r
            a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:toffset\r
            a=extmap:3 \(TransportWideCC.uri)\r
            a=extmap:x broken\r

            """
        let lines = SDPSummary(sdp).lines
        #expect(lines[0].extensions == [1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"])
        #expect(lines[0].extensionID(TransportWideCC.uri) == nil)
        #expect(lines[1].extensions[2] == "urn:ietf:params:rtp-hdrext:toffset")
        #expect(lines[1].extensionID(TransportWideCC.uri) == 3)
    }

    /// An answer may only take up the extensions the offer has, under the offer's ids; a line
    /// that has it already keeps it once.
    @Test func theTransportWideExtensionIsAnnouncedOnTheLinesGivenAnID() {
        let sdp = [
            "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:audio0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:video2", "m=video 0 UDP/TLS/RTP/SAVPF 96", "a=extmap:5 \(TransportWideCC.uri)", "",
        ].joined(separator: "\r\n")
        let announced = TransportWideCC.announced(in: sdp) { $0 == 0 ? nil : 5 }
        #expect(announced == [
            "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:audio0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:video2", "a=extmap:5 \(TransportWideCC.uri)",
            "m=video 0 UDP/TLS/RTP/SAVPF 96", "a=extmap:5 \(TransportWideCC.uri)", "",
        ].joined(separator: "\r\n"))
        let lines = SDPSummary(announced).lines
        #expect(lines.map { $0.extensionID(TransportWideCC.uri) } == [nil, nil, 5, 5])
        #expect(TransportWideCC.announced(in: "v=0\nm=video 9 RTP/AVP 96\n") { _ in 3 } == "v=0\nm=video 9 RTP/AVP 96\na=extmap:3 \(TransportWideCC.uri)\n")
    }

    /// `announced` reads a=extmap and m= lines as SDPSummary does (fuzzing found them reading
    /// `a=extmap: URI`, which has no id, differently): an extension it cannot read is not there.
    @Test func theExtensionCountsAsAnnouncedOnlyWhereTheSummaryReadsIt() {
        let unreadable = "v=0\r\nm=audio 9 RTP/AVP 111\r\na=extmap: \(TransportWideCC.uri)\r\n"
        let announced = TransportWideCC.announced(in: unreadable) { _ in 3 }
        #expect(SDPSummary(announced).lines.map { $0.extensionID(TransportWideCC.uri) } == [3])
        let withAttributes = "v=0\r\nm=video  9 RTP/AVP 96\r\na=extmap:4 \(TransportWideCC.uri) attribute\r\n"
        #expect(SDPSummary(withAttributes).lines.map { $0.extensionID(TransportWideCC.uri) } == [4])
        #expect(TransportWideCC.announced(in: withAttributes) { _ in 3 } == withAttributes)
    }

    /// Opus's capture hints leave an offer's format lines; everything else stays as it was.
    @Test func opusCaptureHintsAreTakenOutOfAnOffer() {
        let sdp = [
            "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 112", "a=fmtp:111 minptime=10; sprop-stereo=1;useinbandfec=1;sprop-maxcapturerate=48000",
            "a=fmtp:112 sprop-stereo=0", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=fmtp:96 packetization-mode=1", "",
        ].joined(separator: "\r\n")
        #expect(OpusHints.removed(from: sdp) == [
            "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 112", "a=fmtp:111 minptime=10;useinbandfec=1",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=fmtp:96 packetization-mode=1", "",
        ].joined(separator: "\r\n"))
        #expect(OpusHints.removed(from: "v=0\nm=audio 9 RTP/AVP 111\n") == "v=0\nm=audio 9 RTP/AVP 111\n")
    }

    @Test(arguments: [
        (320, 240, 15, "42e01f"), (1280, 720, 30, "42e01f"), (1920, 1080, 30, "42e028"), (3840, 2160, 30, "42e033"),
    ])
    func h264LevelFitsTheSizeAndRate(width: Int, height: Int, fps: Int, expected: String) {
        #expect(VideoCodec.h264ProfileLevelID(width: width, height: height, fps: fps) == expected)
    }
}

/// `--public-address`: each local UDP host candidate is announced with the public addresses too.
struct PublicAddressesTests {
    let addresses = PublicAddresses(addresses: ["203.0.113.7", "198.51.100.2"])

    @Test func aUDPHostCandidateGetsOneCopyPerPublicAddressOnTheSamePort() {
        let extra = addresses.extraCandidates(for: "candidate:1 1 UDP 2015363327 10.0.2.2 46441 typ host")
        #expect(extra == ["candidate:1p1 1 UDP 2015363326 203.0.113.7 46441 typ host",
                          "candidate:1p2 1 UDP 2015363325 198.51.100.2 46441 typ host"])
    }

    @Test(arguments: [
        "candidate:2 1 TCP 1015021823 10.0.2.2 9 typ host tcptype active",
        "candidate:4 1 UDP 2015363583 fe80::8830:bcff:fec2:74be 41687 typ host",
        "candidate:7 1 UDP 1677729535 198.51.100.9 50000 typ srflx raddr 10.0.2.2 rport 46441",
        "candidate:8 1 UDP 16777215 203.0.113.9 49160 typ relay raddr 10.0.2.2 rport 46441",
        "candidate:1 1 UDP 2015363327 203.0.113.7 46441 typ host",
        "garbage",
    ])
    func otherCandidatesGetNone(_ line: String) {
        #expect(addresses.extraCandidates(for: line).isEmpty)
    }
}

/// mDNS candidates, and whether this machine can resolve them.
struct MDNSTests {
    @Test func aCandidateWithALocalNameGivesTheName() {
        #expect(MDNS.name(inCandidate: "candidate:1 1 udp 2122260223 1f0c3a2b-9d7e-4b8f-a1c2-6e5d4c3b2a19.local 54321 typ host")
            == "1f0c3a2b-9d7e-4b8f-a1c2-6e5d4c3b2a19.local")
        #expect(MDNS.name(inCandidate: "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host") == nil)
        #expect(MDNS.name(inCandidate: "garbage") == nil)
    }

    @Test func nsswitchWithNSSMDNSResolves() {
        #expect(MDNS.resolves(nsswitch: "passwd: files\nhosts:          files mdns4_minimal [NOTFOUND=return] dns\n"))
        #expect(!MDNS.resolves(nsswitch: "hosts:          files dns\n# hosts: files mdns4_minimal\n"))
        #expect(!MDNS.resolves(nsswitch: ""))
    }
}
