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
                let kind = line.dropFirst(2).split(separator: " ").first.map(String.init) ?? ""
                lines.append(MediaLine(kind: kind, direction: sessionDirection ?? "sendrecv"))
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
            } else if let extmap = attribute.dropPrefix("extmap:") {
                let parts = extmap.split(separator: " ")
                guard parts.count >= 2, let id = parts[0].split(separator: "/").first.flatMap({ Int($0) }) else { continue }
                lines[lines.count - 1].extensions[id] = String(parts[1])
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
        guard let line = lines.first(where: { $0.kind == kind.rawValue }) else { return nil }
        let candidates = line.codecs.filter { $0.encodingName == encodingName }
        guard encodingName == "H264" else { return candidates.first }
        let usable = candidates.filter { $0.parameter("packetization-mode") == "1" }
        let baseline = usable.first { ["42e0", "42c0"].contains($0.parameter("profile-level-id")?.lowercased().prefix(4)) }
        return baseline ?? usable.first
    }

    /// The mid of m-line `index`, for candidates sent to browsers.
    func mid(ofLine index: Int) -> String? {
        lines.indices.contains(index) ? lines[index].mid : nil
    }
}

extension Substring {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
