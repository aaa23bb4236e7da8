import Foundation
import Hummingbird
import Logging
import MeshGateway
import ServiceLifecycle

/// `join --control PATH`: HTTP+JSON on a Unix socket, for `meshgate ctl` (or `curl
/// --unix-socket`). Only this user can connect: the socket is made private to it.
struct ControlEndpoint: Service {
    let path: String
    /// The running gateway; nil while it starts.
    let gateway: @Sendable () -> Gateway?
    let logger: Logger

    /// Refuses a path where another gateway answers, or that is not a socket; a socket left
    /// by a gateway that died is taken over.
    static func check(_ path: String) throws(RuntimeFailure) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw RuntimeFailure("--control \(path) exists and is not a socket; give a path where a socket can be made")
        }
        if ControlClient.answers(at: path) {
            throw RuntimeFailure("--control \(path): another gateway answers there; give each gateway its own path")
        }
        unlink(path)
    }

    /// Serves until the group shuts down; ``check(_:)`` has cleared the path.
    func run() async throws {
        let router = Router()
        let reply = { @Sendable (command: ControlCommand) async -> Response in
            guard let gateway = gateway() else { return Self.json(["ok": false, "error": "the gateway is starting; try again"], status: .serviceUnavailable) }
            switch await gateway.control(command) {
            case .peers(let peers):
                let list = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(peers))) ?? []
                return Self.json(["ok": true, "peers": list])
            case .done(let message):
                return Self.json(["ok": true, "message": message])
            case .refused(let reason):
                return Self.json(["ok": false, "error": reason], status: .conflict)
            }
        }
        router.get("/peers") { _, _ in await reply(.peers) }
        for kind in MediaKind.allCases {
            router.post("/mute/\(kind.rawValue)") { _, _ in await reply(.mute(kind)) }
            router.post("/unmute/\(kind.rawValue)") { _, _ in await reply(.unmute(kind)) }
        }
        for kind in MediaKind.allCases {
            router.post("/source/\(kind.rawValue)") { request, _ in
                let fields = try await Self.fields(of: request)
                guard let source = fields["source"] as? String, fields["loop"] == nil || fields["loop"] is Bool else {
                    return Self.json(["ok": false, "error": "give {\"source\": \"test\"}, and \"loop\": true to loop a file"], status: .badRequest)
                }
                return await reply(.source(kind, source, loop: fields["loop"] as? Bool ?? false))
            }
        }
        router.post("/record/start") { request, _ in
            guard let directory = try await Self.fields(of: request)["directory"] as? String, directory.hasPrefix("/") else {
                return Self.json(["ok": false, "error": "give {\"directory\": \"/absolute/folder\"}"], status: .badRequest)
            }
            return await reply(.recordStart(directory: directory))
        }
        router.post("/record/stop") { _, _ in await reply(.recordStop) }
        router.post("/leave") { _, _ in await reply(.leave) }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let (path, logger) = (path, logger)
        let application = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: path), serverName: "meshgate/control"),
            onServerRunning: { _ in
                chmod(path, 0o600)
                logger.info("control listening", metadata: ["socket": "\(path)"])
            },
            logger: quiet
        )
        defer { unlink(path) }
        try await application.run()
    }

    /// The fields of the request's JSON body (none when it is not a JSON object).
    private static func fields(of request: Request) async throws -> [String: Any] {
        var request = request
        let body = try await request.collectBody(upTo: 65536)
        return (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
    }

    private static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
    }
}
