import Foundation
import MeshTestSupport

/// Chromium's DevTools protocol, attached to the one page of a headless Chromium: for what a
/// user does by hand (a click) and what a user sees (a screenshot).
final class DevTools: Sendable {
    private let socket: TestClient
    private let session: String

    private init(socket: TestClient, session: String) {
        self.socket = socket
        self.session = session
    }

    /// Attaches to the page of the Chromium whose `--user-data-dir` is `profile`.
    static func attach(profile: String) async throws -> DevTools {
        // With --remote-debugging-port=0 Chromium writes its port and browser path here.
        let endpoint = try await eventually("Chromium's DevToolsActivePort") { () -> String? in
            guard let text = try? String(contentsOfFile: profile + "/DevToolsActivePort", encoding: .utf8) else { return nil }
            let lines = text.split(separator: "\n")
            return lines.count == 2 ? "ws://127.0.0.1:\(lines[0])\(lines[1])" : nil
        }
        let socket = try await TestClient.connect(endpoint)
        let browser = DevTools(socket: socket, session: "")
        let page = try await eventually("a page target") { () async throws -> String? in
            let targets = try await browser.command("Target.getTargets")["targetInfos"] as? [[String: Any]] ?? []
            return targets.first { $0["type"] as? String == "page" }?["targetId"] as? String
        }
        let attached = try await browser.command("Target.attachToTarget", ["targetId": page, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw Timeout(description: "cannot attach to the page: \(attached)") }
        return DevTools(socket: socket, session: session)
    }

    /// Runs `expression` in the page (awaiting a promise) and returns its JSON value.
    @discardableResult
    func evaluate(_ expression: String) async throws -> Any? {
        let result = try await command("Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true])
        if let exception = result["exceptionDetails"] { throw Timeout(description: "page threw: \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// A PNG of what the page shows.
    func screenshot() async throws -> Data {
        let result = try await command("Page.captureScreenshot", ["format": "png"])
        guard let text = result["data"] as? String, let png = Data(base64Encoded: text) else { throw Timeout(description: "no screenshot") }
        return png
    }

    func close() async { await socket.close() }

    private func command(_ method: String, _ parameters: [String: Any] = [:]) async throws -> [String: Any] {
        let id = Int.random(in: 1...Int(Int32.max))
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if !session.isEmpty { message["sessionId"] = session }
        socket.send(String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self))
        while true {
            let text = try await socket.nextText(within: .seconds(20))
            guard let reply = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], reply["id"] as? Int == id else { continue }
            if let error = reply["error"] { throw Timeout(description: "\(method) failed: \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }
}
