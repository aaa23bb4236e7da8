import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `--metrics HOST:PORT`: Prometheus's text format at `GET /metrics`, on a listener of its
/// own, so that metrics are never reachable on the call's port.
public enum MetricsEndpoint {
    /// The listener as a service. `beforeScrape` brings gauges read from state up to date;
    /// `onListening` gets the bound port.
    public static func service(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
        beforeScrape: @escaping @Sendable () -> Void = {},
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> any Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            beforeScrape()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: .init(bytes: registry.emitToBuffer()))
            )
        }
        var quiet = logger
        // Hummingbird logs every request at info; a scrape every 15 s would fill the log.
        quiet.logLevel = max(logger.logLevel, .warning)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "meshgate/\(MeshServer.version)"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: quiet
        )
    }
}
