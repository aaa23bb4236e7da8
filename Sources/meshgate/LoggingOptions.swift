import ArgumentParser
import Logging
import MeshLogging

extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--log-format` and `--log-level`, shared by every command that logs.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log line format on stderr: text or json.")
    var logFormat: LogFormat = .text

    @Option(help: "Least severe level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    /// Installs the chosen format; call once at the start of `run()`.
    func bootstrap() {
        logFormat.bootstrap(level: logLevel)
    }
}
