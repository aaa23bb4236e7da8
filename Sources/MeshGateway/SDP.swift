import Foundation

/// What MeshGate needs to know of a session description: per m-line, its kind,
/// direction, mid, codecs and RTP header extensions. Pure parsing; GStreamer does the real SDP work.
struct SDPSummary: Equatable {
    struct Codec: Equatable {
        let payloadType: Int
        let encodingName: String
        var fmtp: String = ""

        /// A format parameter (`a=fmtp:PT name=value;…`).
        func parameter(_ name: String) -> String? {
            for pair in fmtp.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0] == name { return parts[1] }
            }
            return nil
        }
    }

    struct MediaLine: Equatable {
        let kind: String
        var direction = "sendrecv"
        var mid: String?
        var codecs: [Codec] = []
        /// Header extension URIs by their id (`a=extmap:ID[/direction] URI`).
        var extensions: [Int: String] = [:]

        /// The id this line gives the header extension `uri`.
        func extensionID(_ uri: String) -> Int? {
            extensions.filter { $0.value == uri }.keys.min()
        }

        /// Port 0: the answerer refused this line (it takes none of its codecs).
        var rejected = false

        /// Whether the side that wrote this description sends media on this line.
        var sends: Bool { direction == "sendrecv" || direction == "sendonly" }
        /// Whether that side accepts media on it.
        var receives: Bool { direction == "sendrecv" || direction == "recvonly" }
    }

    var lines: [MediaLine] = []

    init(_ sdp: String) {
        var sessionDirection: String?
        // Firefox writes every a=fmtp before the a=rtpmap lines: they meet at the end.
        var formats: [[Int: String]] = []
        for raw in sdp.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("m=") {
                let kind = Self.kind(ofMediaLine: line[...])
                var media = MediaLine(kind: kind, direction: sessionDirection ?? "sendrecv")
                media.rejected = line.split(separator: " ").dropFirst().first == "0"
                lines.append(media)
                formats.append([:])
                continue
            }
            guard line.hasPrefix("a=") else { continue }
            let attribute = line.dropFirst(2)
            if ["sendrecv", "sendonly", "recvonly", "inactive"].contains(String(attribute)) {
                if lines.isEmpty { sessionDirection = String(attribute) } else { lines[lines.count - 1].direction = String(attribute) }
            } else if lines.isEmpty {
                continue
            } else if let mid = attribute.dropPrefix("mid:") {
                lines[lines.count - 1].mid = mid
            } else if let rtpmap = attribute.dropPrefix("rtpmap:") {
                let parts = rtpmap.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = Int(parts[0]) else { continue }
                let name = parts[1].split(separator: "/").first.map(String.init) ?? ""
                lines[lines.count - 1].codecs.append(Codec(payloadType: pt, encodingName: name.uppercased()))
            } else if let fmtp = attribute.dropPrefix("fmtp:") {
                let parts = fmtp.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = Int(parts[0]) else { continue }
                formats[formats.count - 1][pt] = String(parts[1])
            } else if let extmap = Self.extensionMap(attribute) {
                lines[lines.count - 1].extensions[extmap.id] = extmap.uri
            }
        }
        for index in lines.indices {
            for codec in lines[index].codecs.indices {
                lines[index].codecs[codec].fmtp = formats[index][lines[index].codecs[codec].payloadType] ?? ""
            }
        }
    }

    /// The codec named `encodingName` on the first line of `kind`, as the offer gives it.
    /// For H.264 only packetization-mode 1 qualifies, constrained baseline first.
    func codec(_ encodingName: String, kind: MediaKind) -> Codec? {
        lines.firstIndex { $0.kind == kind.rawValue }.flatMap { codec(encodingName, onLine: $0) }
    }

    /// The codec named `encodingName` on m-line `index`, chosen as ``codec(_:kind:)`` does.
    func codec(_ encodingName: String, onLine index: Int) -> Codec? {
        guard lines.indices.contains(index) else { return nil }
        let candidates = lines[index].codecs.filter { $0.encodingName == encodingName }
        guard encodingName == "H264" else { return candidates.first }
        let usable = candidates.filter { $0.parameter("packetization-mode") == "1" }
        let baseline = usable.first { ["42e0", "42c0"].contains($0.parameter("profile-level-id")?.lowercased().prefix(4)) }
        return baseline ?? usable.first
    }

    /// Whether this answer takes the video we offered in `encodingName` (`VP8`, `H264`): its
    /// video line is not refused and names that codec.
    func takesVideo(encodingName: String) -> Bool {
        guard let line = lines.first(where: { $0.kind == MediaKind.video.rawValue }) else { return false }
        return !line.rejected && line.codecs.contains { $0.encodingName == encodingName }
    }

    /// The mid of m-line `index`, for candidates sent to browsers.
    func mid(ofLine index: Int) -> String? {
        lines.indices.contains(index) ? lines[index].mid : nil
    }

    /// The media of an `m=` line: `audio`, `video`, `application`…
    static func kind(ofMediaLine line: Substring) -> String {
        line.dropFirst(2).split(separator: " ").first.map(String.init) ?? ""
    }

    /// Id and URI of an `extmap:ID[/direction] URI [attributes]` attribute (the text after `a=`).
    static func extensionMap(_ attribute: Substring) -> (id: Int, uri: String)? {
        guard attribute.hasPrefix("extmap:") else { return nil }
        let parts = attribute.dropFirst("extmap:".count).split(separator: " ")
        guard parts.count >= 2, let id = parts[0].split(separator: "/").first.flatMap({ Int($0) }) else { return nil }
        return (id, String(parts[1]))
    }
}

extension Substring {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}

/// Transport-wide sequence numbers, the one RTP header extension MeshGate negotiates: a
/// receiver that reports when each numbered packet arrived (transport-cc feedback) lets the
/// sender's congestion control find the link's rate from delay. A browser that cannot get that
/// feedback has only loss to go on, and sends a gateway a few hundred kbit/s for a long while.
///
/// It goes into the SDP text, not into the caps webrtcbin builds the SDP from: from caps the
/// payloaders and RTP sessions would also number and track every packet we send, for nothing
/// here adapts to delay (a few tenths of a percent of a core per peer at 720p). webrtcbin
/// reads the receiving side from the descriptions, and so gives feedback for what it gets.
enum TransportWideCC {
    static let uri = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    /// The id our offers give it (the one Chromium picks).
    static let offeredID = 3

    /// `sdp` with the extension on each audio and video m-line that `id(index)` gives an id;
    /// an answer may only take up what the offer has, under the offer's id.
    static func announced(in sdp: String, id: (Int) -> Int?) -> String {
        let newline = sdp.contains("\r\n") ? "\r\n" : "\n"
        var result: [Substring] = []
        var index = -1
        var pending: String?
        for line in sdp.split(separator: newline, omittingEmptySubsequences: false) {
            if line.hasPrefix("m=") {
                if let pending { result.append(Substring(pending)) }
                index += 1
                // Read as SDPSummary reads it, so that `id(index)` means the same m-line.
                let media = SDPSummary.kind(ofMediaLine: line)
                pending = (media == "audio" || media == "video") ? id(index).map { "a=extmap:\($0) \(uri)" } : nil
            } else if line.isEmpty, let extmap = pending {
                // The blank after the last line's newline: the last m-line ends here.
                result.append(Substring(extmap))
                pending = nil
            } else if line.hasPrefix("a="), SDPSummary.extensionMap(line.dropFirst(2))?.uri == uri {
                pending = nil
            }
            result.append(line)
        }
        if let pending { result.append(Substring(pending)) }
        return result.joined(separator: newline)
    }
}

/// Opus's `sprop-stereo` and `sprop-maxcapturerate` say how the offerer captures; they bind
/// nothing. webrtcbin 1.22 takes them as caps: an offer saying stereo does not meet our
/// mono branch once that branch has caps, and the answer then has our audio `recvonly`
/// (whether it does depends on which came first, the offer or our first audio). Offers go to
/// webrtcbin without them.
enum OpusHints {
    static let names = ["sprop-stereo", "sprop-maxcapturerate"]

    static func removed(from sdp: String) -> String {
        let newline = sdp.contains("\r\n") ? "\r\n" : "\n"
        var result: [String] = []
        for line in sdp.split(separator: newline, omittingEmptySubsequences: false) {
            guard line.hasPrefix("a=fmtp:"), let space = line.firstIndex(of: " ") else {
                result.append(String(line))
                continue
            }
            let kept = line[line.index(after: space)...].split(separator: ";").filter { parameter in
                let name = parameter.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) ?? ""
                return !names.contains(name)
            }
            // A format line left with no parameters is dropped, as if it had never been there.
            if !kept.isEmpty { result.append(line[..<space] + " " + kept.joined(separator: ";")) }
        }
        return result.joined(separator: newline)
    }
}
