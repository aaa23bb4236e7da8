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
        subcommands: [JoinCommand.self, ServeCommand.self, DevicesCommand.self, PipelinesCommand.self]
    )

    /// Exit codes of DESIGN.md: 0 done, 2 bad usage, 1 runtime failure with a one-line reason.
    static func main() async {
        GStreamer.restartWithPlainMallocUnlessSet()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
