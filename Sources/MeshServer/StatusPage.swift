import Hummingbird

/// The answer to `GET /status`: who is serving and which WebSocket URL to use, and what is
/// wrong if the browser client could not be loaded. It names no rooms and no users.
enum StatusPage {
    static func response(version: String, webSocketURL: String, problem: String? = nil) -> Response {
        let url = escape(webSocketURL)
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>MeshGate</title></head>
            <body>
            <h1>MeshGate signalling server</h1>
            <p>Version \(escape(version)).</p>
            <p>WebSocket URL: <code>\(url)</code> (default room), or <code>\(url)room/NAME</code> for room NAME.</p>
            \(problem.map { "<p><strong>Problem:</strong> \(escape($0))</p>" } ?? "")
            </body></html>

            """
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: .init(string: html))
        )
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
