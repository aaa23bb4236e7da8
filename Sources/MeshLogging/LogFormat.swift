import Logging

/// How log lines are written to stderr.
public enum LogFormat: String, CaseIterable, Sendable {
    /// `2026-11-24T18:15:00Z info join room=/ id=alice`
    case text
    /// One JSON object per line: `{"ts":"…","level":"info","msg":"join","room":"/","id":"alice"}`
    case json

    /// Installs the handler for this format as the process-wide logging backend.
    /// Call once, before the first `Logger` is made.
    public func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = switch self {
            case .text: TextLogHandler(label: label)
            case .json: JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}
