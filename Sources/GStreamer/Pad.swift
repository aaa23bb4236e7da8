import CGStreamer
import Glibc
import Synchronization

/// A pad this handle holds one reference to.
public final class Pad: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GstPad>

    /// Adopts a reference the caller owns (transfer full).
    init(adopting pointer: UnsafeMutablePointer<GstPad>) {
        self.pointer = pointer
    }

    /// Takes an extra reference to a pad GStreamer lends to a callback.
    init(borrowing pointer: UnsafeMutablePointer<GstPad>) {
        _ = mg_object_ref(pointer)
        self.pointer = pointer
    }

    deinit {
        mg_object_unref(pointer)
    }

    public var name: String {
        let object = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstObject.self)
        return consume(gst_object_get_name(object)) ?? ""
    }

    public var isSource: Bool { mg_pad_direction(pointer) == GST_PAD_SRC }

    /// The negotiated caps, or else what the pad could produce.
    public var caps: Caps? {
        if let current = gst_pad_get_current_caps(pointer) { return Caps(adopting: current) }
        return gst_pad_query_caps(pointer, nil).map(Caps.init(adopting:))
    }

    /// Sets a property of the pad from its string form (a compositor pad's `xpos`, say).
    public func set(_ property: String, _ value: String) {
        gst_util_set_object_arg(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GObject.self), property, value)
    }

    public func set(_ property: String, _ value: Int) { set(property, String(value)) }

    /// The negotiated caps; nil before negotiation.
    public var currentCaps: Caps? { gst_pad_get_current_caps(pointer).map(Caps.init(adopting:)) }

    /// Whether caps have been negotiated on this pad (data is about to flow or flows).
    public var hasCurrentCaps: Bool { gst_pad_has_current_caps(pointer) != 0 }

    public var peer: Pad? { gst_pad_get_peer(pointer).map(Pad.init(adopting:)) }

    public func link(_ sink: Pad) throws {
        let result = gst_pad_link(pointer, sink.pointer)
        guard result == GST_PAD_LINK_OK else {
            throw GStreamerError("cannot link pad \(name) to \(sink.name): \(String(cString: gst_pad_link_get_name(result)))")
        }
    }

    @discardableResult
    public func unlink(_ sink: Pad) -> Bool {
        gst_pad_unlink(pointer, sink.pointer) != 0
    }

    /// Asks for a keyframe with its parameter sets, upstream from this source pad: an
    /// encoder's makes one; a webrtcbin's sends the remote sender a PLI.
    @discardableResult
    public func requestKeyframe() -> Bool { mg_request_keyframe(pointer) != 0 }

    @discardableResult
    public func sendEOS() -> Bool { mg_send_eos(pointer) != 0 }

    /// Holds the first buffer (its caps are known by then) and calls `body` once with the
    /// probe, on the streaming thread. The pad stays blocked until the probe is removed.
    public func blockAtFirstBuffer(_ body: @escaping @Sendable (Probe) -> Void) {
        let box = OnceBox { [self] id in body(Probe(pad: self, id: gulong(id))) }
        let mask = GST_PAD_PROBE_TYPE_BLOCK.rawValue | GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue
        gst_pad_add_probe(pointer, GstPadProbeType(rawValue: mask), blockProbe, Unmanaged.passRetained(box).toOpaque(), releaseBox)
    }

    /// Drops every buffer from now on; events still pass (an EOS sent after it ends the stream cleanly).
    @discardableResult
    public func dropBuffers() -> Probe {
        let mask = GstPadProbeType(rawValue: GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue)
        return Probe(pad: self, id: gst_pad_add_probe(pointer, mask, dropProbe, nil, nil))
    }

    /// Turns what passes into black frames (I420 video) or silence (S16 audio) until the probe
    /// returned is removed: timing, size and caps stay as they are.
    public func blank() -> Probe {
        Probe(pad: self, id: mg_pad_blank(pointer))
    }

    /// Lets the first buffer through, so that its caps reach what follows, and holds every
    /// later one until the probe returned is removed.
    public func holdAfterFirstBuffer() -> Probe {
        Probe(pad: self, id: mg_pad_hold_after_first_buffer(pointer, nil))
    }

    /// Drops each buffer that is not later, in running time, than the one before it.
    @discardableResult
    public func keepTimeMoving() -> Probe {
        Probe(pad: self, id: mg_pad_keep_time_moving(pointer))
    }

    /// ``holdAfterFirstBuffer()``, also telling when, in running time, the first buffer was.
    public func holdAfterFirstBufferNotingTime() -> FirstBufferHold {
        var noted: UnsafeMutablePointer<MgFirstBuffer>?
        let id = mg_pad_hold_after_first_buffer(pointer, &noted)
        return FirstBufferHold(probe: Probe(pad: self, id: id), noted: noted)
    }

    /// Shifts the running time of what this pad pushes from now on by `nanoseconds`.
    public func setOffset(nanoseconds: Int) {
        gst_pad_set_offset(pointer, nanoseconds)
    }

    /// Calls `body` once, when the pad is idle (at once if it is), from whichever thread that is.
    /// Unlinking a tee branch there is GStreamer's way to stop it without cutting a buffer in two.
    public func whenIdle(_ body: @escaping @Sendable () -> Void) {
        let box = CallbackBox<Void>({ _ in body() })
        gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_IDLE, idleProbe, box.retainedPointer, releaseBox)
    }

    /// Unlinks this pad from its peer once no buffer is passing it.
    public func unlinkWhenIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenIdle {
                if let peer = self.peer { self.unlink(peer) }
                continuation.resume()
            }
        }
    }

    /// Keeps what fails downstream of this pad (a full disk under a recording) from stopping
    /// what feeds it: upstream is told OK, and the failure is only on the bus. Add it last:
    /// probes added after it see no buffers.
    public func containDownstreamErrors() {
        mg_pad_contain_downstream_errors(pointer)
    }

    /// Stops requests to renegotiate (RECONFIGURE events) from going upstream of this pad.
    @discardableResult
    public func dropReconfigureRequests() -> Probe {
        Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, reconfigureProbe, nil, nil))
    }

    /// Stops flushes (a seek upstream) at this pad: what follows keeps playing as if the
    /// stream had not been interrupted.
    @discardableResult
    public func dropFlushes() -> Probe {
        Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_EVENT_FLUSH, flushProbe, nil, nil))
    }

    /// Calls `body` (on the streaming thread) when end-of-stream reaches this pad.
    @discardableResult
    public func onEOS(_ body: @escaping @Sendable () -> Void) -> Probe {
        let box = CallbackBox<Void>({ _ in body() })
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, eosProbe, box.retainedPointer, releaseBox))
    }

    /// Keeps in `lag` how long ago the sender made the received RTP passing this pad.
    @discardableResult
    public func measureSenderLag(into lag: SenderLag) -> Probe {
        let retained = Unmanaged.passRetained(lag).toOpaque()
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_BUFFER, lagProbe, retained, releaseBox))
    }

    /// Counts buffers passing this pad into `counter`.
    @discardableResult
    public func countBuffers(into counter: BufferCounter) -> Probe {
        let retained = Unmanaged.passRetained(counter).toOpaque()
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_BUFFER, countProbe, retained, releaseBox))
    }

    /// Lets requests for a keyframe (force-key-unit events going upstream through this pad)
    /// pass at most once per `interval`. One that comes sooner is held, and sent on at the
    /// first buffer after the interval: a crowd of peers asking at once costs the encoder
    /// upstream a keyframe or two, not one each. The keyframes that pass are counted into
    /// `keyframes`.
    public func coalesceKeyframeRequests(every interval: Duration, counting keyframes: BufferCounter) {
        let gate = KeyframeGate(interval: interval, keyframes: keyframes)
        gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, keyframeRequestProbe,
                          Unmanaged.passRetained(gate).toOpaque(), releaseBox)
        gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_BUFFER, heldKeyframeProbe,
                          Unmanaged.passRetained(gate).toOpaque(), releaseBox)
    }

    /// Calls `body` (on the thread that set them) each time this pad's caps change: how a
    /// sending branch says it is ready, without anyone polling for it.
    public func onCapsChange(_ body: @escaping @Sendable () -> Void) {
        let box = CallbackBox<Void>({ _ in body() })
        _ = mg_connect_notify(pointer, "notify::caps", onNotify, box.retainedPointer, releaseClosureBox)
    }
}

/// A probe on a pad, removed with ``remove()`` (a blocking one lets its data pass then).
public struct Probe: Sendable {
    public let pad: Pad
    let id: gulong

    public func remove() {
        gst_pad_remove_probe(pad.pointer, id)
    }
}

/// A hold after the first buffer (``Pad/holdAfterFirstBufferNotingTime()``): what it noted
/// is read until ``release()``, which frees it with the probe.
public final class FirstBufferHold: @unchecked Sendable {
    public let probe: Probe
    private var noted: UnsafeMutablePointer<MgFirstBuffer>?

    fileprivate init(probe: Probe, noted: UnsafeMutablePointer<MgFirstBuffer>?) {
        self.probe = probe
        self.noted = noted
    }

    /// The first buffer's running time, once it passed (nanoseconds).
    public var firstRunningTime: Int? {
        guard let noted else { return nil }
        let time = mg_first_buffer_running_time(noted)
        return time < 0 ? nil : Int(time)
    }

    /// Lets what waits through.
    public func release() {
        noted = nil
        probe.remove()
    }
}

/// How long ago the sender made the media now passing a pad, kept by a probe on the
/// streaming thread and read by the control loop.
public final class SenderLag: Sendable {
    private let latest = Atomic<Int>(-1)

    public init() {}

    /// Milliseconds from the sender's capture to here, for the latest buffer that carried
    /// the sender's clock; nil before the first RTCP sender report. Only meaningful when
    /// both machines' clocks agree (the same machine, or both synchronised by NTP).
    public var milliseconds: Int? {
        let value = latest.load(ordering: .relaxed)
        return value < 0 ? nil : value
    }

    fileprivate func record(senderUnixNanoseconds: UInt64) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - Int64(bitPattern: senderUnixNanoseconds)
        latest.store(max(0, Int(nanoseconds / 1_000_000)), ordering: .relaxed)
    }
}

/// A count of buffers kept by a probe on a streaming thread and read by the control loop.
public final class BufferCounter: Sendable {
    private let count = Atomic<Int>(0)
    private let keyframeCount = Atomic<Int>(0)
    private let decodable = Atomic<Bool>(false)
    private let onFirst: @Sendable () -> Void

    /// `onFirst` runs at the first buffer that decodes on its own (a keyframe; any audio buffer).
    public init(onFirst: @escaping @Sendable () -> Void = {}) { self.onFirst = onFirst }

    public var value: Int { count.load(ordering: .relaxed) }

    /// How many of them decode on their own (keyframes; every audio buffer).
    public var keyframes: Int { keyframeCount.load(ordering: .relaxed) }

    /// Whether a buffer that decodes on its own has passed.
    public var sawKeyframe: Bool { decodable.load(ordering: .relaxed) }

    fileprivate func count(keyframe: Bool) {
        count.wrappingAdd(1, ordering: .relaxed)
        guard keyframe else { return }
        keyframeCount.wrappingAdd(1, ordering: .relaxed)
        if !decodable.exchange(true, ordering: .relaxed) { onFirst() }
    }
}

/// When the last request for a keyframe went on, and whether one waits: see
/// ``Pad/coalesceKeyframeRequests(every:counting:)``.
private final class KeyframeGate: Sendable {
    private struct State {
        var lastSent: ContinuousClock.Instant?
        var held = false
    }

    let interval: Duration
    let keyframes: BufferCounter
    private let state = Mutex(State())

    init(interval: Duration, keyframes: BufferCounter) {
        self.interval = interval
        self.keyframes = keyframes
    }

    /// Whether a request that comes now goes on; if not, it is held.
    func passes(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            if let last = state.lastSent, now - last < interval {
                state.held = true
                return false
            }
            state.lastSent = now
            state.held = false
            return true
        }
    }

    /// Whether a held request is due now; it counts as sent.
    func heldRequestDue(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard state.held, let last = state.lastSent, now - last >= interval else { return false }
            state.lastSent = now
            state.held = false
            return true
        }
    }
}

/// A callback a blocking probe runs once, however often GStreamer calls the probe.
private final class OnceBox: Sendable {
    let called = Atomic<Bool>(false)
    let body: @Sendable (UInt) -> Void
    init(_ body: @escaping @Sendable (UInt) -> Void) { self.body = body }
}

private let blockProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let info, let data else { return GST_PAD_PROBE_OK }
    let box = Unmanaged<OnceBox>.fromOpaque(data).takeUnretainedValue()
    if !box.called.exchange(true, ordering: .relaxed) { box.body(UInt(info.pointee.id)) }
    return GST_PAD_PROBE_OK
}

private let onNotify: @convention(c) (UnsafeMutablePointer<GObject>?, UnsafeMutablePointer<GParamSpec>?, gpointer?) -> Void = { _, _, data in
    CallbackBox<Void>.from(data)?.body(())
}

private let keyframeRequestProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let info, let data, mg_keyframe_request_kind(info) == 1 else { return GST_PAD_PROBE_OK }
    return Unmanaged<KeyframeGate>.fromOpaque(data).takeUnretainedValue().passes(at: .now) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP
}

private let heldKeyframeProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { pad, info, data in
    guard let pad, let data, let buffer = info?.pointee.data?.assumingMemoryBound(to: GstBuffer.self) else { return GST_PAD_PROBE_OK }
    let gate = Unmanaged<KeyframeGate>.fromOpaque(data).takeUnretainedValue()
    let delta = buffer.pointee.mini_object.flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0
    gate.keyframes.count(keyframe: !delta)
    if gate.heldRequestDue(at: .now) { mg_push_held_keyframe_request(pad) }
    return GST_PAD_PROBE_OK
}

private let dropProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, _, _ in
    GST_PAD_PROBE_DROP
}

private let idleProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, _, data in
    CallbackBox<Void>.from(data)?.body(())
    return GST_PAD_PROBE_REMOVE
}

private let reconfigureProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, _ in
    guard let info, mg_probe_event_type(info) == GST_EVENT_RECONFIGURE else { return GST_PAD_PROBE_OK }
    return GST_PAD_PROBE_DROP
}

private let flushProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, _, _ in
    GST_PAD_PROBE_DROP
}

private let eosProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let info, mg_probe_event_type(info) == GST_EVENT_EOS else { return GST_PAD_PROBE_OK }
    CallbackBox<Void>.from(data)?.body(())
    return GST_PAD_PROBE_OK
}

private let countProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let data, let buffer = info?.pointee.data?.assumingMemoryBound(to: GstBuffer.self) else { return GST_PAD_PROBE_OK }
    let delta = buffer.pointee.mini_object.flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0
    Unmanaged<BufferCounter>.fromOpaque(data).takeUnretainedValue().count(keyframe: !delta)
    return GST_PAD_PROBE_OK
}

private let lagProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let data, let buffer = info?.pointee.data?.assumingMemoryBound(to: GstBuffer.self) else { return GST_PAD_PROBE_OK }
    let sent = mg_buffer_sender_unix_time(buffer)
    if sent != 0 { Unmanaged<SenderLag>.fromOpaque(data).takeUnretainedValue().record(senderUnixNanoseconds: UInt64(sent)) }
    return GST_PAD_PROBE_OK
}
