import CGStreamer

/// A Swift closure handed to C as user data. GStreamer keeps one retained
/// reference; `releaseBox` (the GDestroyNotify) gives it back.
final class CallbackBox<Arguments>: @unchecked Sendable {
    let body: @Sendable (Arguments) -> Void
    init(_ body: @escaping @Sendable (Arguments) -> Void) { self.body = body }

    var retainedPointer: UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> CallbackBox<Arguments>? {
        pointer.map { Unmanaged<CallbackBox<Arguments>>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// GClosureNotify for signal handlers.
let releaseClosureBox: @convention(c) (gpointer?, UnsafeMutablePointer<GClosure>?) -> Void = { data, _ in
    if let data { Unmanaged<AnyObject>.fromOpaque(data).release() }
}

/// GDestroyNotify for probes, promises and bus handlers.
let releaseBox: @convention(c) (gpointer?) -> Void = { data in
    if let data { Unmanaged<AnyObject>.fromOpaque(data).release() }
}
