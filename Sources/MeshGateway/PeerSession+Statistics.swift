import Foundation
import GStreamer

extension PeerSession {
    /// Prints this peer's `--stats` line on stdout, as JSON.
    func report(_ statistics: Statistics?) {
        guard let statistics else {
            context.logger.warning("webrtcbin gave no statistics within 5 s", metadata: ["peer": "\(id)", "state": "\(state.rawValue)"])
            return
        }
        let line = statisticsLine(statistics, now: .now)
        guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// With `--encode per-peer`, this peer's video bitrate follows the loss its receiver reports.
    func adaptBitrate(_ statistics: Statistics?) {
        guard let encoder = media.videoEncoder, let lost = statistics?.fractionLost(sending: .video),
              let kbps = bitrate.update(fractionLost: lost) else { return }
        configuration.videoEncoder(sentVideoCodec ?? configuration.videoCodec).setBitrate(kbps, on: encoder)
        context.logger.debug("video bitrate", metadata: ["peer": "\(id)", "kbps": "\(kbps)", "lost": "\(Int(lost * 100))%"])
    }

    /// The `--stats` line of this peer: rates since the previous line, totals since it connected.
    func statisticsLine(_ statistics: Statistics, now: ContinuousClock.Instant) -> [String: Any] {
        let traffic = statistics.traffic
        let previous = lastStatistics ?? (time: started, bytesIn: 0, bytesOut: 0)
        let seconds = Double((now - previous.time).milliseconds) / 1000
        lastStatistics = (now, traffic.bytesIn, traffic.bytesOut)
        func kbps(_ bytes: Int) -> Int { seconds > 0 ? Int(Double(bytes * 8) / seconds / 1000) : 0 }
        var line: [String: Any] = [
            "peer": id,
            "state": shownState,
            "kbps_in": kbps(traffic.bytesIn - previous.bytesIn),
            "kbps_out": kbps(traffic.bytesOut - previous.bytesOut),
            "packets_lost": traffic.packetsLost,
            "frames_in": media.received.value,
            "audio_buffers_in": media.receivedAudio.value,
        ]
        if let rtt = traffic.rtt {
            line["rtt_ms"] = (rtt * 10_000).rounded() / 10
        }
        if let pair = statistics.candidatePair {
            line["candidate_pair"] = pair
        }
        if let lag = media.videoLag.milliseconds {
            line["latency_ms"] = lag
        }
        if let encoded = context.encodedVideo {
            line["keyframes_out"] = encoded.keyframes
        }
        if let interval = context.sourceVideo?.keyframeInterval {
            line["source_keyframe_interval_ms"] = interval.milliseconds
        }
        if let video = sentVideo {
            line["video_out"] = video
        }
        if let codec = sentVideoCodec {
            line["video_codec"] = codec.rawValue
        }
        if configuration.encode == .perPeer, media.videoEncoder != nil {
            line["kbps_target"] = bitrate.current
        }
        return line
    }
}

extension PeerSession {
    /// The connection's state as `--stats` and metrics show it: `stalled` is connected, but
    /// nothing has come for a while.
    var shownState: String { state == .connected && liveness.stalled ? "stalled" : state.rawValue }

    static let shownStates = ["new", "connecting", "connected", "stalled", "disconnected", "failed", "closed"]
}

/// kbit/s each way between two rounds of statistics, ``interval`` apart.
struct TrafficRates {
    static let interval = Duration.seconds(2)

    private(set) var kbpsIn: Double?
    private(set) var kbpsOut: Double?
    private var last: (time: ContinuousClock.Instant, traffic: Statistics.Traffic)?

    mutating func update(_ traffic: Statistics.Traffic, now: ContinuousClock.Instant) {
        // A new connection to the same peer starts its counts again from zero.
        if let last, last.traffic.bytesIn <= traffic.bytesIn, last.traffic.bytesOut <= traffic.bytesOut, now > last.time {
            let seconds = Double((now - last.time).milliseconds) / 1000
            kbpsIn = Double(traffic.bytesIn - last.traffic.bytesIn) * 8 / seconds / 1000
            kbpsOut = Double(traffic.bytesOut - last.traffic.bytesOut) * 8 / seconds / 1000
        }
        last = (now, traffic)
    }
}

extension Statistics {
    /// What went each way, totals since the connection started.
    struct Traffic {
        var bytesIn: Int
        var bytesOut: Int
        var packetsLost: Int
        /// Seconds; the largest of the receivers' reports.
        var rtt: Double?
        /// Seconds; the largest of the streams received.
        var jitter: Double?
    }

    var traffic: Traffic {
        let inbound = entries.filter { $0.type == "inbound-rtp" }
        return Traffic(
            bytesIn: inbound.compactMap { $0.int("bytes-received") }.reduce(0, +),
            bytesOut: entries.filter { $0.type == "outbound-rtp" }.compactMap { $0.int("bytes-sent") }.reduce(0, +),
            packetsLost: inbound.compactMap { $0.int("packets-lost") }.map { max($0, 0) }.reduce(0, +),
            rtt: entries.filter { $0.type == "remote-inbound-rtp" }.compactMap { $0.double("round-trip-time") }.max(),
            jitter: inbound.compactMap { $0.double("jitter") }.max()
        )
    }

    /// The ICE candidate pair media flows over: each side's candidate type (`host`, `srflx`,
    /// `prflx`, `relay`), address and port, the protocol, and whether it goes through a relay.
    var candidatePair: [String: Any]? {
        guard let pair = entries.first(where: { $0.type == "candidate-pair" }),
              let local = entries.first(where: { $0.fields["id"] == pair.fields["local-candidate-id"] }),
              let remote = entries.first(where: { $0.fields["id"] == pair.fields["remote-candidate-id"] }) else { return nil }
        func side(_ entry: Entry) -> String {
            [entry.fields["candidate-type"], entry.fields["address"].map { $0 + ":" + (entry.fields["port"] ?? "") }]
                .compactMap { $0 }.joined(separator: " ")
        }
        let types = [local, remote].map { $0.fields["candidate-type"] ?? "" }
        return ["local": side(local), "remote": side(remote), "protocol": local.fields["protocol"] ?? "",
                "relay": types.contains("relay")]
    }

    /// The share of what we send of `kind` that the receiver reports lost (RTCP receiver
    /// reports), 0 to 1. The codec entry of a sending pad names the stream's SSRC.
    func fractionLost(sending kind: MediaKind) -> Double? {
        let sent = Set(entries.filter { $0.type == "codec" && $0.fields["codec-type"] == "encode"
            && $0.fields["mime-type"]?.lowercased().hasPrefix(kind.rawValue + "/") == true }.compactMap { $0.fields["ssrc"] })
        return entries.first { $0.type == "remote-inbound-rtp" && sent.contains($0.fields["ssrc"] ?? "") }?.double("fraction-lost")
    }
}
