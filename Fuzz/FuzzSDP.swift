import MeshProtocol

/// libFuzzer target `sdp`: a remote description's text through everything the gateway
/// reads of it (`RemoteInput`'s checks, `SDPSummary`, its codec, format parameter, mid and
/// extension lookups), and `TransportWideCC.announced`, with the ids an answer takes from that offer.
///
/// The first byte is the id our own offers give the extension; the rest is the SDP text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let sdp = String(decoding: bytes.dropFirst(), as: UTF8.self)
    let summary = SDPSummary(sdp)
    readEverything(summary)
    checkAsARemoteDescription(sdp, candidateIndex: Int(Int8(bitPattern: bytes.first ?? 0)))

    expect(TransportWideCC.announced(in: sdp) { _ in nil } == sdp, "announcing nothing changed the text")
    let offerID = Int(bytes.first ?? 3)
    let offered = TransportWideCC.announced(in: sdp) { _ in offerID }
    let answered = TransportWideCC.announced(in: sdp) {
        summary.lines.indices.contains($0) ? summary.lines[$0].extensionID(TransportWideCC.uri) : nil
    }
    readEverything(SDPSummary(offered))
    readEverything(SDPSummary(answered))

    // What webrtcbin writes (whole lines, each ending in CRLF) keeps its m-lines; an audio or
    // video line gets ours where the text had no header extensions, and a second pass adds nothing.
    guard isPlainSDP(sdp) else { return 0 }
    let after = SDPSummary(offered)
    expect(after.lines.map(\.kind) == summary.lines.map(\.kind), "announcing changed the m-lines: \(offered)")
    for line in after.lines where !sdp.contains("a=extmap:") {
        let expected = line.kind == "audio" || line.kind == "video" ? [offerID: TransportWideCC.uri] : [:]
        expect(line.extensions == expected, "a \(line.kind) line announced \(line.extensions): \(offered)")
    }
    expect(TransportWideCC.announced(in: offered) { _ in offerID } == offered, "a second pass changed \(offered)")
    return 0
}

/// What `RemoteInput` lets through keeps its promises: 1 to 16 m-lines, codecs with RTP's
/// payload types, and candidates only for m-lines the description has.
func checkAsARemoteDescription(_ sdp: String, candidateIndex: Int) {
    guard let summary = try? RemoteInput.check(description: .offer(sdp), expected: "offer") else { return }
    expect((1...RemoteInput.maxMediaLines).contains(summary.lines.count), "\(summary.lines.count) m-lines passed")
    for line in summary.lines {
        expect(line.codecs.allSatisfy { (0...127).contains($0.payloadType) }, "a payload type out of range passed")
    }
    let ice = IceCandidate(candidate: "candidate:1 1 UDP 1 127.0.0.1 9 typ host", sdpMid: summary.lines.last?.mid, sdpMLineIndex: candidateIndex)
    for candidate in [ice, IceCandidate(candidate: ice.candidate, sdpMid: ice.sdpMid)] {
        guard let checked = try? RemoteInput.check(candidate: candidate), let index = try? RemoteInput.mline(of: checked, in: summary) else { continue }
        expect(summary.lines.indices.contains(index), "a candidate for m-line \(index) of \(summary.lines.count) passed")
    }
}

/// Every lookup the gateway makes, with what each promises.
func readEverything(_ summary: SDPSummary) {
    expect(summary.mid(ofLine: -1) == nil && summary.mid(ofLine: summary.lines.count) == nil)
    for (index, line) in summary.lines.enumerated() {
        expect(summary.mid(ofLine: index) == line.mid)
        for codec in line.codecs {
            for name in ["packetization-mode", "profile-level-id", "useinbandfec", ""] {
                if let value = codec.parameter(name) { expect(codec.fmtp.contains(value)) }
            }
        }
        if let id = line.extensionID(TransportWideCC.uri) { expect(line.extensions[id] == TransportWideCC.uri) }
    }
    for kind in MediaKind.allCases {
        let first = summary.lines.first { $0.kind == kind.rawValue }
        for name in ["VP8", "H264", "OPUS", "VP9"] {
            guard let codec = summary.codec(name, kind: kind) else { continue }
            expect(codec.encodingName == name && first?.codecs.contains(codec) == true, "\(name) is not from the first \(kind) line")
        }
    }
}

/// Lines separated and ended by CRLF, none empty, none with a line break or outer spaces of its own.
func isPlainSDP(_ sdp: String) -> Bool {
    guard sdp.hasSuffix("\r\n") else { return false }
    return sdp.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast().allSatisfy { line in
        !line.isEmpty && !line.contains { $0.isNewline } && line.first?.isWhitespace == false && line.last?.isWhitespace == false
    }
}
