#if canImport(Glibc)
import Glibc
#endif

/// The process's limit of open files, which bounds the connections a server can hold.
enum OpenFiles {
    /// Raises the soft limit to the hard one (the soft 1024 of a login shell is a relic of
    /// select(2), which nothing here uses) and returns the limit now in force.
    private static func raiseLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Raises the limit, and gives the connections of `wanted` that it leaves room for, with
    /// the limit that decided it.
    static func connections(atMost wanted: Int) -> (allowed: Int, files: Int) {
        let files = raiseLimit()
        return (min(wanted, max(16, files - reserved)), files)
    }

    /// Files kept for what is not a client's connection: the listener, the log, Redis, and
    /// the hubs' media sockets.
    private static let reserved = 256
}
