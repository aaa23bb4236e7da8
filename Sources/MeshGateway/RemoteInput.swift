import MeshProtocol

/// Checks on what a remote peer sends, before any of it reaches GStreamer or a collection.
/// Any member of a room can send a gateway anything: these keep one of them from trapping
/// the gateway, growing it without bound, or making it answer what the server cannot carry.
enum RemoteInput {
    /// Why a peer's message was not used, for the (rate-limited) log.
    struct Refusal: Error, Equatable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The largest offer or answer taken: the server's default frame limit, so that nothing
    /// bigger than what a server relays by default is ever parsed.
    static let maxDescriptionBytes = 65_536
    /// More m-lines than any call uses (a browser offers two or three); each costs a
    /// transceiver, and the answer grows with them.
    static let maxMediaLines = 16
    /// A candidate line is under 200 bytes; a TURN relay's with every extension under 400.
    static let maxCandidateBytes = 1024
    /// Browsers' mids are "0", "1", … or short names.
    static let maxMidBytes = 64
    /// The largest `send_aswer`/`send_offer` frame we send: the server's default frame limit.
    /// A bigger one would be refused and cost us the socket.
    static let maxOutgoingFrameBytes = 65_536

    /// A description the peer sent, checked before webrtcbin parses it.
    static func check(description: SessionDescription, expected type: String) throws(Refusal) -> SDPSummary {
        guard description.type == type else {
            throw Refusal("the description's type is '\(description.type.prefix(40))', not '\(type)'")
        }
        guard description.sdp.utf8.count <= maxDescriptionBytes else {
            throw Refusal("the \(type) is \(description.sdp.utf8.count) bytes, more than \(maxDescriptionBytes)")
        }
        var summary = SDPSummary(description.sdp)
        guard !summary.lines.isEmpty else { throw Refusal("the \(type) has no m-line") }
        guard summary.lines.count <= maxMediaLines else {
            throw Refusal("the \(type) has \(summary.lines.count) m-lines, more than \(maxMediaLines)")
        }
        // What MeshGate takes from the codecs goes into caps: only values RTP allows.
        for index in summary.lines.indices {
            summary.lines[index].codecs.removeAll { codec in
                !(0...127).contains(codec.payloadType)
                    || codec.parameter("profile-level-id").map { !isProfileLevelID($0) } ?? false
            }
        }
        return summary
    }

    /// Where a trickled candidate goes once the remote description is known.
    struct Candidate: Equatable {
        var mlineIndex: Int?
        var mid: String?
        var line: String
    }

    /// A trickled candidate, checked on its own; `nil` for the empty end-of-candidates one.
    static func check(candidate ice: IceCandidate) throws(Refusal) -> Candidate? {
        let line = ice.candidate
        guard !line.isEmpty else { return nil }
        guard line.utf8.count <= maxCandidateBytes else {
            throw Refusal("a candidate of \(line.utf8.count) bytes, more than \(maxCandidateBytes)")
        }
        guard line.hasPrefix("candidate:") || line.hasPrefix("a=candidate:") else {
            throw Refusal("'\(line.prefix(40))' is not a candidate line")
        }
        guard !line.hasControlCharacters else {
            throw Refusal("a candidate with control characters")
        }
        if let index = ice.sdpMLineIndex, !(0..<maxMediaLines).contains(index) {
            throw Refusal("sdpMLineIndex \(index) is not an m-line index")
        }
        if let mid = ice.sdpMid, mid.utf8.count > maxMidBytes || mid.hasControlCharacters {
            throw Refusal("sdpMid '\(mid.prefix(40))' is not a mid")
        }
        return Candidate(mlineIndex: ice.sdpMLineIndex, mid: ice.sdpMid, line: line)
    }

    /// The m-line a candidate belongs to in `remote`: its index, else its mid's line, else
    /// the first (every m-line shares one transport with max-bundle).
    static func mline(of candidate: Candidate, in remote: SDPSummary) throws(Refusal) -> Int {
        if let index = candidate.mlineIndex {
            guard remote.lines.indices.contains(index) else {
                throw Refusal("sdpMLineIndex \(index), but the description has \(remote.lines.count) m-lines")
            }
            return index
        }
        if let mid = candidate.mid {
            guard let index = remote.lines.firstIndex(where: { $0.mid == mid }) else {
                throw Refusal("sdpMid '\(mid)' is in no m-line of the description")
            }
            return index
        }
        return 0
    }

    /// H.264's `profile-level-id`: six hex digits.
    static func isProfileLevelID(_ text: String) -> Bool {
        text.utf8.count == 6 && text.allSatisfy(\.isHexDigit)
    }
}
