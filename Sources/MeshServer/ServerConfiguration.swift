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
    /// Bytes a client may have waiting to be written to it before it is dropped as not reading.
    /// A frame always goes out to an empty outbox, however large.
    public var maxOutboxBytes: Int = 1 << 20
    /// Longest user id, in UTF-8 bytes, a `new_user` may register.
    public var maxIDBytes: Int = 128
    /// Longest username, in UTF-8 bytes, a `new_user` may register.
    public var maxNameBytes: Int = 256
    /// Users one room holds; a `new_user` into a full room is refused.
    public var maxRoomSize: Int = 64
    /// Frames a second one socket may send on average; zero turns the limit off.
    public var rateLimit: Double = 50
    /// Frames one socket may send at once above `rateLimit`. More than this many refused
    /// within ``refusalLogInterval`` close the socket with 1008.
    public var rateBurst: Int = 200
    /// Bytes a second one socket may send on average; zero turns the limit off. A refused
    /// frame counts towards closing the socket as one over `rateLimit` does.
    public var byteRateLimit: Double = 256 * 1024
    /// Bytes one socket may send at once above `byteRateLimit`: a newcomer's offers to a
    /// full room (63 of up to about 12 KB from a browser) fit with room to spare.
    public var byteRateBurst: Int = 2 << 20
    /// Seconds a connection has to finish its TLS handshake and its first HTTP request
    /// (a WebSocket upgrade included), and an HTTP connection may stay idle between requests.
    public var handshakeTimeout: Double = 10
    /// Seconds a WebSocket has to register with a valid `new_user` before it is closed.
    public var registerTimeout: Double = 30
    /// TCP connections (WebSocket and HTTP) open at once; one more is closed as it is
    /// accepted. `meshgate serve` lowers it to what its open-file limit allows.
    public var maxConnections: Int = 10_000
    /// TCP connections open at once from one client address (an IPv6 client: its /64);
    /// zero: no limit. Generous, for many users behind one NAT.
    public var maxConnectionsPerAddress: Int = 256
    /// Reverse proxies (IP addresses) whose connections are counted per client by the
    /// address their X-Forwarded-For adds, not per their own.
    public var trustedProxies: [String] = []
    /// Origins (`https://call.example`) whose pages may open a WebSocket; empty allows any.
    /// An upgrade without an Origin header (not a browser) is always allowed.
    public var allowedOrigins: [String] = []
    /// How often the log sums up a socket's refused frames, instead of a line per frame.
    public var refusalLogInterval: Duration = .seconds(10)

    public struct TLSFiles: Sendable {
        public var certificate: String
        public var privateKey: String

        public init(certificate: String, privateKey: String) {
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    public init() {}

    /// Whether `text` can go in ``allowedOrigins``: `scheme://host[:port]`, or `null`.
    public static func isOrigin(_ text: String) -> Bool {
        OriginList.normalized(text) != nil
    }
}
