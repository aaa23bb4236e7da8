import ArgumentParser
import Foundation
import GStreamer
import MeshServer

@main
struct MeshGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshgate",
        abstract: "A headless WebRTC media gateway and signalling server for mesh calls.",
        version: MeshServer.version,
        subcommands: [JoinCommand.self, ServeCommand.self, CtlCommand.self, DevicesCommand.self, PipelinesCommand.self]
    )

    /// Exit codes of DESIGN.md: 0 done, 2 bad usage, 1 runtime failure with a one-line reason.
    static func main() async {
        GStreamer.restartWithPlainMallocUnlessSet()
        let commandLine = Array(CommandLine.arguments.dropFirst())
        var layers: ConfigLayers?
        do {
            layers = try await ConfigLayers.resolve(commandLine, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(layers?.arguments ?? commandLine)
            // Parsed first, so that it prints only a configuration that would run.
            if let layers, commandLine.prefix(while: { $0 != "--" }).contains("--print-config") {
                print(layers.printed())
                return
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = fullMessage(for: error)
                FileHandle.standardError.write(Data(((layers?.explained(message) ?? message) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
