import ArgumentParser

/// `--host` and `--port`: where `serve` listens, and where `join`'s embedded server does.
struct ListeningOptions: ParsableArguments {
    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8000

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
    }

    /// The address a client on this machine connects to: loopback when listening on every address.
    var connectableHost: String {
        switch host {
        case "0.0.0.0": "127.0.0.1"
        case "::": "[::1]"
        default: host
        }
    }

    /// The host names to print: one for this machine, and, when listening on every
    /// address, one that other machines can use.
    var shown: (local: String, others: String?) { ListeningAddress.shown(for: host) }
}
