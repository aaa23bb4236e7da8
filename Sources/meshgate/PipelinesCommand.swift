import ArgumentParser
import MeshGateway

struct PipelinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines",
        abstract: "List the presets --pipeline takes."
    )

    func run() throws {
        let presets = Preset.all()
        if presets.isEmpty {
            throw RuntimeFailure("no presets found: run meshgate from its checkout, or set MESHGATE_PIPELINES to a folder of .pipeline files")
        }
        let width = presets.map(\.name.count).max() ?? 0
        for preset in presets {
            print(preset.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + preset.summary)
        }
    }
}
