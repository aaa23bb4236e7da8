#if canImport(Glibc)
import Glibc
#endif

/// The process's limit of open files, which bounds the connections a server can hold.
enum OpenFiles {
    /// Raises the soft limit to the hard one (the soft 1024 of a login shell is a relic of
    /// select(2), which nothing here uses) and returns the limit now in force.
    static func raiseLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Files kept for what is not a client's connection: the listener, the log, Redis, and
    /// the hubs' media sockets.
    static let reserved = 256
}
