import CGStreamer

/// webrtcbin's `get-stats` reply: one entry per statistics object (codec, inbound-rtp,
/// outbound-rtp, remote-inbound-rtp, transport...), its fields as strings.
public struct Statistics: Sendable {
    public struct Entry: Sendable {
        /// The statistics type, as "inbound-rtp".
        public let type: String
        public let fields: [String: String]

        public func int(_ field: String) -> Int? { fields[field].flatMap { Int($0) } }
        public func double(_ field: String) -> Double? { fields[field].flatMap { Double($0) } }
    }

    public let entries: [Entry]

    init(_ reply: PromiseReply) {
        var entries: [Entry] = []
        if let structure = reply.structure {
            for index in 0..<gst_structure_n_fields(structure) {
                guard let name = gst_structure_nth_field_name(structure, guint(index)),
                      let value = gst_structure_get_value(structure, name),
                      let inner = mg_value_structure(value) else { continue }
                var fields: [String: String] = [:]
                for field in 0..<gst_structure_n_fields(inner) {
                    guard let fieldName = gst_structure_nth_field_name(inner, guint(field)),
                          let fieldValue = gst_structure_get_value(inner, fieldName),
                          let text = consume(gst_value_serialize(fieldValue)) else { continue }
                    fields[String(cString: fieldName)] = text
                }
                entries.append(Entry(type: fields["type"] ?? String(cString: gst_structure_get_name(inner)), fields: fields))
            }
        }
        self.entries = entries
    }
}

extension WebRTCBin {
    /// The statistics of this peer connection now; nil when webrtcbin does not answer in 5 s,
    /// or the awaiting task is cancelled.
    public func statistics() async -> Statistics? {
        guard case .replied(let reply) = await awaitPromise(timeout: .seconds(5), { mg_webrtc_get_stats(pointer, $0) }) else { return nil }
        return Statistics(reply)
    }
}
