import CGStreamer
import CMalloc
import Dispatch
import Glibc

/// Process-wide GStreamer set-up and queries.
public enum GStreamer {
    private static let started: Bool = {
        gst_init(nil, nil)
        return true
    }()

    /// Initialises GStreamer once; every other call in this module assumes it ran.
    public static func initialize() {
        _ = started
    }

    /// GStreamer's version, as "1.22.0".
    public static var version: String {
        var major: guint = 0, minor: guint = 0, micro: guint = 0, nano: guint = 0
        gst_version(&major, &minor, &micro, &nano)
        return "\(major).\(minor).\(micro)"
    }

    /// Runs this program again, at once, with glib's slice allocator off, unless `G_SLICE` is
    /// set. That allocator (glib 2.74) keeps what it freed for good: after a crowd of peers
    /// left, a gateway stayed tens of MiB above where it was; with plain malloc it goes back
    /// (see `returnFreedMemory`). glib reads `G_SLICE` as it loads, before `main`, hence the
    /// restart. Returns only when the variable was set or the restart failed.
    public static func restartWithPlainMallocUnlessSet() {
        guard getenv("G_SLICE") == nil else { return }
        setenv("G_SLICE", "always-malloc", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }

    /// Gives memory that was freed back to the system. glibc keeps freed memory in each
    /// thread's arena for reuse, and every webrtcbin brings threads of its own: after a crowd
    /// of peers left, a gateway would otherwise keep their memory for good.
    public static func returnFreedMemory() {
        _ = malloc_trim(0)
    }

    /// Runs `work` on a thread of its own and waits for it without holding one of Swift's
    /// cooperative threads, which are few (one per core): a state change to NULL joins an
    /// element's threads, and making elements loads plugins, each for a long moment.
    public static func blocking<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, E>, Never>) in
            blockingQueue.async { continuation.resume(returning: Result { () throws(E) -> T in try work() }) }
        }
        return try result.get()
    }

    private static let blockingQueue = DispatchQueue(label: "meshgate.gstreamer.blocking", attributes: .concurrent)

    /// Whether an element factory is installed (a plugin package may be missing).
    public static func hasElement(_ factory: String) -> Bool {
        guard let found = gst_element_factory_find(factory) else { return false }
        gst_object_unref(UnsafeMutableRawPointer(found))
        return true
    }
}

/// A failure reported by GStreamer, in words a user can act on.
public struct GStreamerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Takes ownership of a GError: returns its message and frees it.
func consume(_ error: UnsafeMutablePointer<GError>?) -> String {
    guard let error else { return "unknown error" }
    defer { g_error_free(error) }
    return String(cString: error.pointee.message)
}

/// Takes ownership of a g_malloc'ed C string.
func consume(_ text: UnsafeMutablePointer<gchar>?) -> String? {
    guard let text else { return nil }
    defer { g_free(text) }
    return String(cString: text)
}
