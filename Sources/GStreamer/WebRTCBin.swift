import CGStreamer

/// What a webrtcbin reports. Delivered on GStreamer's threads: hand them on, do not act there.
public enum WebRTCEvent: Sendable {
    case negotiationNeeded
    case iceCandidate(mline: Int, candidate: String)
    /// A source pad of remote media, reported at its first buffer (its caps known) and held
    /// there until the owner links it and removes `blockProbe`.
    case incomingPad(Pad, blockProbe: Probe)
    case connectionState(PeerConnectionState)
    /// A data channel the peer opened.
    case dataChannel(DataChannel)
}

public enum PeerConnectionState: String, Sendable {
    case new, connecting, connected, disconnected, failed, closed

    init(_ raw: GstWebRTCPeerConnectionState) {
        switch raw {
        case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING: self = .connecting
        case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED: self = .connected
        case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED: self = .disconnected
        case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED: self = .failed
        case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED: self = .closed
        default: self = .new
        }
    }
}

public enum TransceiverDirection: Sendable {
    case sendrecv, recvonly

    var raw: GstWebRTCRTPTransceiverDirection {
        switch self {
        case .sendrecv: GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
        case .recvonly: GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY
        }
    }
}

/// A webrtcbin: one peer connection.
public final class WebRTCBin: Element, @unchecked Sendable {
    private var handlers: [gulong] = []

    public convenience init(name: String) throws {
        guard let element = gst_element_factory_make("webrtcbin", name) else {
            throw GStreamerError("GStreamer element 'webrtcbin' is missing: install gstreamer1.0-plugins-bad and gstreamer1.0-nice")
        }
        self.init(sinking: element)
        set("bundle-policy", "max-bundle")
        mg_webrtc_disable_upnp(pointer)
        // Fast-starting jitterbuffers: a late joiner's first frame would otherwise wait their
        // whole latency (200 ms), which still absorbs jitter once media flows. Sender reports
        // with capture times: receivers (and `latency_ms`) map our RTP time to the wall clock.
        guard mg_webrtc_configure_rtpbin(pointer, 2) != 0 else {
            throw GStreamerError("this webrtcbin has no rtpbin inside: GStreamer 1.22 or later is needed")
        }
    }

    /// Connects every signal the owner needs to `handler`. Call once, before negotiating.
    public func observe(_ handler: @escaping @Sendable (WebRTCEvent) -> Void) {
        let plain = CallbackBox<Void>({ _ in handler(.negotiationNeeded) })
        handlers.append(mg_connect_element(pointer, "on-negotiation-needed", onElementSignal, plain.retainedPointer, releaseClosureBox))
        let candidate = CallbackBox<(Int, String)>({ handler(.iceCandidate(mline: $0.0, candidate: $0.1)) })
        handlers.append(mg_connect_ice_candidate(pointer, onIceCandidate, candidate.retainedPointer, releaseClosureBox))
        let pad = CallbackBox<(Pad, Probe)>({ handler(.incomingPad($0.0, blockProbe: $0.1)) })
        handlers.append(mg_connect_pad(pointer, "pad-added", onIncomingPad, pad.retainedPointer, releaseClosureBox))
        let state = CallbackBox<PeerConnectionState>({ handler(.connectionState($0)) })
        handlers.append(mg_connect_notify(pointer, "notify::connection-state", onConnectionState, state.retainedPointer, releaseClosureBox))
        let channel = CallbackBox<DataChannel>({ handler(.dataChannel($0)) })
        handlers.append(mg_connect_data_channel(pointer, onDataChannel, channel.retainedPointer, releaseClosureBox))
    }

    /// A data channel for text messages, negotiated in band: made before the offer, it adds
    /// the offer's data section.
    public func createDataChannel(label: String) throws -> DataChannel {
        guard let channel = mg_webrtc_create_data_channel(pointer, label) else {
            throw GStreamerError("webrtcbin made no data channel '\(label)' (it needs the sctp plugin of gstreamer1.0-plugins-bad)")
        }
        return DataChannel(adopting: channel)
    }

    /// Disconnects the handlers so nothing more is reported while the element is torn down.
    public func stopObserving() {
        for handler in handlers { mg_disconnect(pointer, handler) }
        handlers.removeAll()
    }

    /// Restricts ICE to these local addresses (libnice never offers loopback by itself).
    public func useLocalAddresses(_ addresses: [String]) throws {
        for address in addresses where mg_webrtc_add_local_address(pointer, address) == 0 {
            throw GStreamerError("ICE cannot use local address \(address)")
        }
    }

    public func setPortRange(min: Int, max: Int) {
        mg_webrtc_set_ice_port_range(pointer, guint(min), guint(max))
    }

    /// Whether ICE also uses TCP candidates: what gets through a firewall that drops UDP.
    public func useTCP(_ enabled: Bool) {
        mg_webrtc_set_ice_tcp(pointer, enabled ? 1 : 0)
    }

    public func addTurnServer(_ url: String) throws {
        guard mg_webrtc_add_turn_server(pointer, url) != 0 else {
            throw GStreamerError("webrtcbin refused a TURN server (\(url.split(separator: "@").last ?? "")): use turn://USER:PASSWORD@HOST:PORT")
        }
    }

    /// Adds a transceiver for remote media of `caps` (one or more codecs).
    @discardableResult
    public func addTransceiver(_ direction: TransceiverDirection, caps: Caps) -> Bool {
        guard let transceiver = mg_webrtc_add_transceiver(pointer, direction.raw, caps.pointer) else { return false }
        mg_gobject_unref(UnsafeMutableRawPointer(transceiver))
        return true
    }

    /// Requests a sink pad for RTP of `caps` and pins its transceiver to those codecs, so
    /// offers and answers carry every field of `caps` (H.264's profile, say) even while
    /// the payloader has not yet put them on its own caps.
    public func requestSinkPad(caps: Caps) throws -> Pad {
        guard let pad = requestPad("sink_%u", caps: caps) else {
            throw GStreamerError("webrtcbin has no m-line for \(caps)")
        }
        guard mg_webrtc_pad_set_codec_preferences(pad.pointer, caps.pointer) != 0 else {
            releaseRequestPad(pad)
            throw GStreamerError("webrtcbin gave no transceiver for \(caps)")
        }
        return pad
    }

    public func createOffer() async throws -> String {
        try description(from: await awaitPromise { mg_webrtc_create_offer(pointer, $0) }, field: "offer")
    }

    public func createAnswer() async throws -> String {
        try description(from: await awaitPromise { mg_webrtc_create_answer(pointer, $0) }, field: "answer")
    }

    public func setLocalDescription(_ type: SDPType, _ sdp: String) async throws {
        try await setDescription(local: true, type, sdp)
    }

    public func setRemoteDescription(_ type: SDPType, _ sdp: String) async throws {
        try await setDescription(local: false, type, sdp)
    }

    /// Adds a remote candidate to m-line `mline`; false (and nothing done) for an index no
    /// m-line can have. Callers check the index against the description: this only keeps a
    /// hostile number from trapping the conversion to C.
    @discardableResult
    public func addIceCandidate(mline: Int, _ candidate: String) -> Bool {
        guard let index = guint(exactly: mline) else { return false }
        mg_webrtc_add_ice_candidate(pointer, index, candidate)
        return true
    }

    /// Counts every packet that comes in from the peer (RTP, RTCP, DTLS) into `counter`, at
    /// the ICE transport's source: what shows the peer is still there when it sends no media.
    /// The transport exists once both descriptions are set; false before.
    public func countArrivingPackets(into counter: BufferCounter) -> Bool {
        guard let pads = mg_bin_source_pads_of(pointer, "nicesrc") else { return false }
        defer { g_free(pads) }
        var index = 0
        while let pad = pads[index] {
            Pad(adopting: pad).countBuffers(into: counter)
            index += 1
        }
        return index > 0
    }

    public enum SDPType: Sendable {
        case offer, answer
        var raw: GstWebRTCSDPType {
            switch self {
            case .offer: GST_WEBRTC_SDP_TYPE_OFFER
            case .answer: GST_WEBRTC_SDP_TYPE_ANSWER
            }
        }
    }

    private func setDescription(local: Bool, _ type: SDPType, _ sdp: String) async throws {
        guard let description = mg_description_from_text(type.raw, sdp) else {
            throw GStreamerError("the \(type) is not valid SDP")
        }
        defer { gst_webrtc_session_description_free(description) }
        let result = await awaitPromise { mg_webrtc_set_description(pointer, local ? 1 : 0, description, $0) }
        if let failure = result.failure("set the \(local ? "local" : "remote") \(type)") { throw failure }
        if case .replied(let reply) = result, let error = reply.errorText { throw GStreamerError(error) }
    }

    private func description(from result: PromiseResult, field: String) throws -> String {
        if let failure = result.failure("create an \(field)") { throw failure }
        guard case .replied(let reply) = result else { throw GStreamerError("webrtcbin gave no \(field)") }
        if let error = reply.errorText { throw GStreamerError(error) }
        guard let text = consume(mg_reply_description_text(reply.structure, field)) else {
            throw GStreamerError("webrtcbin gave no \(field)")
        }
        return text
    }
}

private let onElementSignal: @convention(c) (UnsafeMutablePointer<GstElement>?, gpointer?) -> Void = { _, data in
    CallbackBox<Void>.from(data)?.body(())
}

private let onIceCandidate: @convention(c) (UnsafeMutablePointer<GstElement>?, guint, UnsafeMutablePointer<gchar>?, gpointer?) -> Void = { _, mline, candidate, data in
    guard let candidate else { return }
    CallbackBox<(Int, String)>.from(data)?.body((Int(mline), String(cString: candidate)))
}

private let onIncomingPad: @convention(c) (UnsafeMutablePointer<GstElement>?, UnsafeMutablePointer<GstPad>?, gpointer?) -> Void = { _, pad, data in
    guard let pad, mg_pad_direction(pad) == GST_PAD_SRC else { return }
    // Hold the stream until the control loop links the pad: data on an unlinked pad is an error.
    guard let box = CallbackBox<(Pad, Probe)>.from(data) else { return }
    let handle = Pad(borrowing: pad)
    handle.blockAtFirstBuffer { [handle] probe in box.body((handle, probe)) }
}

private let onDataChannel: @convention(c) (UnsafeMutablePointer<GstElement>?, OpaquePointer?, gpointer?) -> Void = { _, channel, data in
    guard let channel else { return }
    CallbackBox<DataChannel>.from(data)?.body(DataChannel(borrowing: channel))
}

private let onConnectionState: @convention(c) (UnsafeMutablePointer<GObject>?, UnsafeMutablePointer<GParamSpec>?, gpointer?) -> Void = { object, _, data in
    guard let object else { return }
    let raw = GstWebRTCPeerConnectionState(rawValue: UInt32(mg_object_get_enum(object, "connection-state")))
    CallbackBox<PeerConnectionState>.from(data)?.body(PeerConnectionState(raw))
}
