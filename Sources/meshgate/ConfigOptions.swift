import ArgumentParser

/// `--config FILE` and `--print-config`, for `join` and `serve`. `MeshGate.main` acts on
/// both before the command runs (``ConfigLayers``); the command only declares them.
struct ConfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read options from a YAML file whose keys are the long option names (size: 640x480); options given and MESHGATE_* variables win over it. Also MESHGATE_CONFIG.", valueName: "FILE"))
    var config: String?

    @Flag(help: "Print the configuration this would run with (options, MESHGATE_* variables, --config, defaults; secrets masked) as YAML, and exit.")
    var printConfig = false
}
