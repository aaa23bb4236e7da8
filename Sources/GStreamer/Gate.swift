import CGStreamer
import Synchronization

/// A gate on a pad of encoded media. Closed, it drops buffers (events pass, so what follows
/// keeps its caps and is ready); opened, it lets media through from the next keyframe on, so
/// a decoder behind it never starts on frames it cannot decode.
public final class Gate: Sendable {
    private struct State {
        var open = false
        var passing = false
    }

    private let state: Mutex<State>

    /// `open`: passing from the start.
    public init(open: Bool = false) {
        state = Mutex(State(open: open, passing: open))
    }

    public var isOpen: Bool { state.withLock { $0.open } }

    public func open() {
        state.withLock { $0.open = true }
    }

    public func close() {
        state.withLock { $0 = State() }
    }

    fileprivate func passes(keyframe: Bool) -> Bool {
        state.withLock { state in
            if state.open, keyframe { state.passing = true }
            return state.passing
        }
    }
}

extension Pad {
    /// Lets buffers through this pad only as `gate` says.
    @discardableResult
    public func gate(_ gate: Gate) -> Probe {
        let retained = Unmanaged.passRetained(gate).toOpaque()
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_BUFFER, gateProbe, retained, releaseBox))
    }

    /// Drops end-of-stream at this pad and calls `body` (on the streaming thread) instead:
    /// a network source that ends is reopened, and what follows must not end with it.
    @discardableResult
    public func replaceEOS(_ body: @escaping @Sendable () -> Void) -> Probe {
        let box = CallbackBox<Void>({ _ in body() })
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, replaceEOSProbe, box.retainedPointer, releaseBox))
    }
}

private let gateProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let data, let buffer = info?.pointee.data?.assumingMemoryBound(to: GstBuffer.self) else { return GST_PAD_PROBE_OK }
    let delta = buffer.pointee.mini_object.flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0
    return Unmanaged<Gate>.fromOpaque(data).takeUnretainedValue().passes(keyframe: !delta) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP
}

private let replaceEOSProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let info, mg_probe_event_type(info) == GST_EVENT_EOS else { return GST_PAD_PROBE_OK }
    CallbackBox<Void>.from(data)?.body(())
    return GST_PAD_PROBE_DROP
}
