import CGStreamer
import Synchronization

/// What a probe sees of an encoded stream's buffers, kept on the streaming thread and read by
/// the control loop: how many passed, how often a keyframe comes, and whether frames come out
/// of presentation order (B-frames: a decoder must hold frames back to reorder them).
public final class StreamWatch: Sendable {
    private struct State {
        var buffers = 0
        var keyframes = 0
        var framesBeforeFirstKeyframe = 0
        var latestTime: UInt64?
        var reordered = false
        var lastKeyframeTime: UInt64?
        var keyframeInterval: UInt64?
    }

    private let state = Mutex(State())

    public init() {}

    /// How far back a frame's time may be without counting as reordered, in ns.
    static let jitter: UInt64 = 8_000_000

    public var buffers: Int { state.withLock { $0.buffers } }
    public var keyframes: Int { state.withLock { $0.keyframes } }
    /// Buffers since the first keyframe: what a decision about the stream can look at.
    public var buffersSinceFirstKeyframe: Int { state.withLock { $0.keyframes > 0 ? $0.buffers - $0.framesBeforeFirstKeyframe : 0 } }
    /// Whether a frame came with a presentation time before one already seen.
    public var reordered: Bool { state.withLock { $0.reordered } }
    /// The time between the last two keyframes, by their timestamps.
    public var keyframeInterval: Duration? {
        state.withLock { $0.keyframeInterval.map { .nanoseconds(Int64(clamping: $0)) } }
    }

    fileprivate func record(time: UInt64?, keyframe: Bool) {
        state.withLock { state in
            state.buffers += 1
            if keyframe {
                if state.keyframes == 0 { state.framesBeforeFirstKeyframe = state.buffers - 1 }
                state.keyframes += 1
                if let time, let last = state.lastKeyframeTime, time > last { state.keyframeInterval = time - last }
                if let time { state.lastKeyframeTime = time }
            }
            // A keyframe starts the order afresh: a source that restarts or loops starts its times over.
            guard let time else { return }
            // By more than a jitterbuffer's smoothing moves a time: a reordered frame comes a
            // whole frame (17 ms at 60 fps) or more before the latest.
            if !keyframe, state.keyframes > 0, let latest = state.latestTime, time + Self.jitter < latest { state.reordered = true }
            state.latestTime = keyframe ? time : max(time, state.latestTime ?? 0)
        }
    }
}

extension Pad {
    /// Watches the buffers passing this pad into `watch`.
    @discardableResult
    public func watch(into watch: StreamWatch) -> Probe {
        let retained = Unmanaged.passRetained(watch).toOpaque()
        return Probe(pad: self, id: gst_pad_add_probe(pointer, GST_PAD_PROBE_TYPE_BUFFER, watchProbe, retained, releaseBox))
    }
}

private let watchProbe: @convention(c) (UnsafeMutablePointer<GstPad>?, UnsafeMutablePointer<GstPadProbeInfo>?, gpointer?) -> GstPadProbeReturn = { _, info, data in
    guard let data, let buffer = info?.pointee.data?.assumingMemoryBound(to: GstBuffer.self) else { return GST_PAD_PROBE_OK }
    let delta = buffer.pointee.mini_object.flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0
    let time = buffer.pointee.pts == mg_clock_time_none() ? nil : UInt64(buffer.pointee.pts)
    Unmanaged<StreamWatch>.fromOpaque(data).takeUnretainedValue().record(time: time, keyframe: !delta)
    return GST_PAD_PROBE_OK
}
