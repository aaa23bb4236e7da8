import MeshProtocol

/// Everything `meshgate serve` can be told; tests build one directly.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String = "0.0.0.0"
    /// Port to listen on; 0 picks a free one (tests).
    public var port: Int = 8000
    /// When set, a socket must present `?token=` with this value before it can register.
    public var token: String?
    /// PEM certificate chain and private key: serve `wss://` and `https://`.
    public var tls: TLSFiles?
    /// Largest text message accepted; a larger one closes that socket with status 1009.
    public var maxMessageBytes: Int = 65536
    /// Seconds between pings; a socket that misses a ping's pong by the next one is dropped.
    /// Zero turns pinging off.
    public var pingInterval: Double = 20
    /// Frames a slow client may have waiting before it is dropped as not reading.
    public var outboxLimit: Int = 4096

    public struct TLSFiles: Sendable {
        public var certificate: String
        public var privateKey: String

        public init(certificate: String, privateKey: String) {
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    public init() {}
}
