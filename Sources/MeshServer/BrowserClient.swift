import Foundation
import Hummingbird

/// The browser client (`Client/`: HTML, JS and CSS, no build step), read once from the
/// package's resources and served from memory.
struct BrowserClient: Sendable {
    struct File: Sendable {
        let contentType: String
        let body: ByteBuffer
    }

    /// The folder SwiftPM copies beside the executable.
    static let bundleName = "meshgate_MeshServer.resources"

    /// The page, at `/` and `/room/NAME`.
    let page: File
    /// Everything else, by URL path (`/assets/client.js`).
    let assets: [String: File]

    /// Loads the client from the resources beside the running executable.
    ///
    /// Not `Bundle.module`: it ends the process when the folder is missing, and a server
    /// copied without its resources should still relay, and say what is wrong.
    static func load() throws(ServerError) -> BrowserClient {
        let places = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        let candidates = places.map { $0.appendingPathComponent(bundleName).appendingPathComponent("Client") }
        guard let folder = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }) else {
            throw ServerError("the browser client is missing: keep the folder \(bundleName) beside the meshgate binary (looked in \(places.map(\.path).joined(separator: ", ")))")
        }
        func file(_ name: String, _ contentType: String) throws(ServerError) -> File {
            do {
                return File(contentType: contentType, body: ByteBuffer(bytes: try Data(contentsOf: folder.appendingPathComponent(name))))
            } catch {
                throw ServerError("cannot read the browser client's \(name): \(error.localizedDescription)")
            }
        }
        return BrowserClient(
            page: try file("index.html", "text/html; charset=utf-8"),
            assets: [
                "/assets/client.js": try file("client.js", "text/javascript; charset=utf-8"),
                "/assets/client.css": try file("client.css", "text/css; charset=utf-8"),
            ]
        )
    }

    static func response(_ file: File) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: file.body)
        )
    }
}
