import ArgumentParser
import Logging
import MeshServer
import Prometheus
import ServiceLifecycle

/// `--metrics HOST:PORT`, for `serve` and `join`.
struct MetricsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics, on a listener of their own; off without it.", valueName: "HOST:PORT"),
            transform: { try MetricsAddress(argument: $0) })
    var metrics: MetricsAddress?

    /// Where metrics are kept and how they are served, when `--metrics` is given.
    func endpoint() -> MetricsSetup? {
        metrics.map(MetricsSetup.init)
    }
}

/// The address of `--metrics`: `HOST:PORT`, or `[IPv6]:PORT`.
struct MetricsAddress {
    let host: String
    let port: Int

    init(argument: String) throws {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--metrics takes HOST:PORT (for example 127.0.0.1:9100), not '\(argument)'")
        }
        var host = String(argument[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, JoinCommand.isIPAddress(host) || host == "localhost" else {
            throw ValidationError("--metrics needs an IP address to listen on (127.0.0.1, 0.0.0.0, [::1]), not '\(host)'")
        }
        self.host = host
        self.port = port
    }

    /// As a URL's authority with `port` (the one bound, for port 0): `[::1]:9100`.
    func shown(port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The registry everything counts into, and the listener that serves it.
struct MetricsSetup {
    let address: MetricsAddress
    let registry = PrometheusCollectorRegistry()

    var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Relaying a message takes well under a millisecond on a quiet server.
        factory.durationHistogramBuckets["meshgate_server_relay_latency_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        return factory
    }

    func service(logger: Logger, beforeScrape: @escaping @Sendable () -> Void = {}) -> any Service {
        let address = address
        return MetricsEndpoint.service(host: address.host, port: address.port, registry: registry, logger: logger, beforeScrape: beforeScrape) { port in
            logger.info("metrics listening", metadata: ["url": "http://\(address.shown(port: port))/metrics"])
        }
    }
}
